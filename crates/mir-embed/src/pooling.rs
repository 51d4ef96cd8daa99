//! What every windowed model shares: where its windows start, how an output's time axis
//! becomes one vector per window.

use serde::{Deserialize, Serialize};

/// Start samples of the windows of `window` samples every `hop` over a track of `len`
/// samples: every hop until a window reaches the end (at least one; the last one is
/// zero-padded by the caller).
pub fn window_starts(len: usize, window: usize, hop: usize) -> Vec<usize> {
    let mut starts = vec![0];
    while starts[starts.len() - 1] + window < len {
        starts.push(starts[starts.len() - 1] + hop.max(1));
    }
    starts
}

/// The slice at `index` of `axis` of a row-major tensor of `shape`: its shape (without that
/// axis) and values.
pub(crate) fn slice_axis(
    shape: &[i64],
    values: &[f32],
    axis: usize,
    index: usize,
) -> std::result::Result<(Vec<i64>, Vec<f32>), String> {
    let size = |d: &[i64]| d.iter().map(|&n| n.max(0) as usize).product::<usize>();
    let Some(&len) = shape.get(axis) else {
        return Err(format!("no axis {axis}"));
    };
    if index >= len.max(0) as usize {
        return Err(format!("axis {axis} has {len} entries, no {index}"));
    }
    let (outer, inner) = (size(&shape[..axis]), size(&shape[axis + 1..]));
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        let start = (o * len as usize + index) * inner;
        out.extend_from_slice(&values[start..start + inner]);
    }
    let mut kept = shape.to_vec();
    kept.remove(axis);
    Ok((kept, out))
}

/// How an output's time axis becomes one vector per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Mean over time.
    #[default]
    Mean,
    /// Maximum over time.
    Max,
    /// Mean then population standard deviation over time (twice the width).
    MeanStd,
}

/// Pools each of `items` items of a row-major tensor of `shape` over `time_axis` (none: the
/// item flattened).
pub(crate) fn pool(
    shape: &[i64],
    values: &[f32],
    items: usize,
    time_axis: Option<usize>,
    pooling: Pooling,
) -> std::result::Result<Vec<Vec<f32>>, String> {
    if shape.first().copied() != Some(items as i64) {
        return Err(format!("axis 0 is not the batch of {items}"));
    }
    let item: usize = shape[1..].iter().map(|&d| d as usize).product();
    let Some(axis) = time_axis else {
        return Ok(values.chunks(item.max(1)).map(<[f32]>::to_vec).collect());
    };
    if axis >= shape.len() {
        return Err(format!("no axis {axis}"));
    }
    let pre: usize = shape[1..axis].iter().map(|&d| d as usize).product();
    let t = shape[axis] as usize;
    let post: usize = shape[axis + 1..].iter().map(|&d| d as usize).product();
    let width = pre * post;
    Ok(values
        .chunks(item.max(1))
        .map(|x| {
            let at = |p: usize, k: usize, q: usize| f64::from(x[(p * t + k) * post + q]);
            let mut out = vec![
                0.0f32;
                if pooling == Pooling::MeanStd {
                    2 * width
                } else {
                    width
                }
            ];
            for p in 0..pre {
                for q in 0..post {
                    let j = p * post + q;
                    match pooling {
                        Pooling::Max => {
                            out[j] = (0..t)
                                .map(|k| at(p, k, q))
                                .fold(f64::NEG_INFINITY, f64::max)
                                as f32;
                        }
                        Pooling::Mean | Pooling::MeanStd => {
                            let mean = (0..t).map(|k| at(p, k, q)).sum::<f64>() / t.max(1) as f64;
                            out[j] = mean as f32;
                            if pooling == Pooling::MeanStd {
                                let var = (0..t).map(|k| (at(p, k, q) - mean).powi(2)).sum::<f64>()
                                    / t.max(1) as f64;
                                out[width + j] = var.sqrt() as f32;
                            }
                        }
                    }
                }
            }
            out
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_over_the_time_axis() {
        // Two items of shape [3 (time), 2].
        let v = [1., 10., 2., 20., 3., 30., 0., 0., 0., 0., 6., 60.];
        let mean = pool(&[2, 3, 2], &v, 2, Some(1), Pooling::Mean).unwrap();
        assert_eq!(mean, vec![vec![2., 20.], vec![2., 20.]]);
        let max = pool(&[2, 3, 2], &v, 2, Some(1), Pooling::Max).unwrap();
        assert_eq!(max[1], vec![6., 60.]);
        let ms = pool(&[2, 3, 2], &v, 2, Some(1), Pooling::MeanStd).unwrap();
        assert!((ms[0][2] - (2.0f32 / 3.0).sqrt()).abs() < 1e-6);
        // Time last: [2 (channels), 3 (time)].
        let last = pool(
            &[1, 2, 3],
            &[1., 2., 3., 4., 5., 6.],
            1,
            Some(2),
            Pooling::Mean,
        )
        .unwrap();
        assert_eq!(last, vec![vec![2., 5.]]);
        assert_eq!(
            pool(&[2, 3, 2], &v, 2, None, Pooling::Mean).unwrap()[1],
            v[6..].to_vec()
        );
        assert!(pool(&[3, 2], &v[..6], 2, None, Pooling::Mean).is_err());
        // [2 (layers), 2 (batch), 3]: layer 1 is the second half.
        let stacked: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let (shape, one) = slice_axis(&[2, 2, 3], &stacked, 0, 1).unwrap();
        assert_eq!((shape, one), (vec![2, 3], stacked[6..].to_vec()));
        // [2 (batch), 3 (layers), 2]: layer 2 of each item.
        let (shape, two) = slice_axis(&[2, 3, 2], &stacked, 1, 2).unwrap();
        assert_eq!((shape, two), (vec![2, 2], vec![4., 5., 10., 11.]));
        assert!(slice_axis(&[2, 3, 2], &stacked, 1, 3).is_err());
    }
}
