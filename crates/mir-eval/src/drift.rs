//! Embedding drift under deformation: how far a track's embedding moves when its audio is
//! deformed, against how far apart different tracks' embeddings are.
//!
//! Per layer and deformation: the mean cosine distance between each track's clean and
//! deformed embeddings (each the mean of its windows), and its ratio to the mean cosine
//! distance between two different tracks' clean embeddings. A ratio near 0: the deformation
//! barely moves the embedding; near 1: the deformed track is as far from itself as from any
//! other track.

use std::collections::BTreeMap;

use mir_table::{CLEAN, DriftRow, Metadata, Table, TableKind, keys, read_embeddings};

use crate::Result;

/// A layer and a deformation.
type Condition = (i32, String);

/// Each track's vector (window mean) per condition.
type ByCondition = BTreeMap<Condition, BTreeMap<String, Vec<f64>>>;

/// The drift rows of one model's embeddings tables on one dataset (clean and deformed).
pub fn drift(embeddings: &[Table]) -> Result<Vec<DriftRow>> {
    let Some(first) = embeddings.first() else {
        return Ok(vec![]);
    };
    let meta = Metadata::of(&first.schema);
    let e = TableKind::Embeddings;
    let (dataset, model) = (meta.get(e, keys::DATASET)?, meta.get(e, keys::MODEL)?);
    // (layer, deformation) -> track -> (sum of windows, count)
    let mut sums: BTreeMap<Condition, BTreeMap<String, (Vec<f64>, usize)>> = BTreeMap::new();
    for table in embeddings {
        for row in read_embeddings(table)? {
            let by_track = sums.entry((row.layer, row.deformation)).or_default();
            let (sum, n) = by_track
                .entry(row.track_id)
                .or_insert_with(|| (vec![0.0; row.embedding.len()], 0));
            sum.iter_mut()
                .zip(&row.embedding)
                .for_each(|(s, v)| *s += f64::from(*v));
            *n += 1;
        }
    }
    let means: ByCondition = (sums.into_iter())
        .map(|(k, tracks)| {
            let tracks = (tracks.into_iter())
                .map(|(id, (s, n))| (id, s.into_iter().map(|x| x / n as f64).collect()))
                .collect();
            (k, tracks)
        })
        .collect();
    let unit = standardised(means);
    let mut rows = Vec::new();
    let mut typical: BTreeMap<i32, f64> = BTreeMap::new();
    for ((layer, deformation), deformed) in &unit {
        let Some(clean) = unit.get(&(*layer, CLEAN.to_owned())) else {
            continue;
        };
        if deformation == CLEAN {
            continue;
        }
        let moved: Vec<f64> = (deformed.iter())
            .filter_map(|(id, d)| clean.get(id).map(|c| 1.0 - dot(c, d)))
            .collect();
        let typical = *typical
            .entry(*layer)
            .or_insert_with(|| typical_distance(clean));
        if moved.is_empty() {
            continue;
        }
        let mean = moved.iter().sum::<f64>() / moved.len() as f64;
        rows.push(DriftRow {
            dataset: dataset.to_owned(),
            model: model.to_owned(),
            layer: *layer,
            deformation: deformation.clone(),
            drift: mean,
            typical,
            ratio: if typical > 0.0 {
                mean / typical
            } else {
                f64::NAN
            },
            n: moved.len() as i64,
        });
    }
    Ok(rows)
}

/// The mean cosine distance over the pairs of different tracks, in one pass: for vectors of
/// unit length (or zero), the sum of `a . b` over pairs is `(|sum|^2 - sum |a|^2) / 2`.
fn typical_distance(clean: &BTreeMap<String, Vec<f64>>) -> f64 {
    let n = clean.len();
    if n < 2 {
        return f64::NAN;
    }
    let dim = clean.values().next().map_or(0, Vec::len);
    let (mut sum, mut squares) = (vec![0.0; dim], 0.0);
    for v in clean.values() {
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
        squares += dot(v, v);
    }
    let pairs = (n * (n - 1) / 2) as f64;
    1.0 - (dot(&sum, &sum) - squares) / (2.0 * pairs)
}

/// Every track mean standardised with its layer's clean statistics (as a probe sees it),
/// then scaled to unit length.
fn standardised(means: ByCondition) -> ByCondition {
    let mut stats: BTreeMap<i32, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for ((layer, deformation), tracks) in &means {
        if deformation != CLEAN || tracks.is_empty() {
            continue;
        }
        let dim = tracks.values().next().map_or(0, Vec::len);
        let n = tracks.len() as f64;
        let (mut mean, mut sq) = (vec![0.0; dim], vec![0.0; dim]);
        for v in tracks.values() {
            for (k, x) in v.iter().enumerate() {
                mean[k] += x / n;
                sq[k] += x * x / n;
            }
        }
        let sd = (mean.iter().zip(&sq))
            .map(|(m, s): (&f64, &f64)| (s - m * m).max(0.0).sqrt())
            .map(|s| if s > 1e-12 { s } else { 1.0 })
            .collect();
        stats.insert(*layer, (mean, sd));
    }
    (means.into_iter())
        .filter_map(|((layer, deformation), tracks)| {
            let (mean, sd) = stats.get(&layer)?;
            let z = |v: Vec<f64>| -> Vec<f64> {
                let z = v
                    .iter()
                    .zip(mean)
                    .zip(sd)
                    .map(|((x, m), s)| (x - m) / s)
                    .collect();
                normalised(z)
            };
            let tracks = tracks.into_iter().map(|(id, v)| (id, z(v))).collect();
            Some(((layer, deformation), tracks))
        })
        .collect()
}

fn normalised(v: Vec<f64>) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.into_iter()
        .map(|x| if norm > 0.0 { x / norm } else { 0.0 })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typical_distance_is_the_mean_over_every_pair() {
        let mut next = crate::testing::numbers(11);
        let tracks: BTreeMap<String, Vec<f64>> = (0..40)
            .map(|i| {
                let v: Vec<f64> = (0..7)
                    .map(|_| (next() % 1000) as f64 / 500.0 - 1.0)
                    .collect();
                // One zero vector, as `normalised` leaves an all-zero track.
                let v = if i == 5 { vec![0.0; 7] } else { normalised(v) };
                (format!("t{i:02}"), v)
            })
            .collect();
        let vectors: Vec<&Vec<f64>> = tracks.values().collect();
        let (mut total, mut pairs) = (0.0, 0);
        for (i, a) in vectors.iter().enumerate() {
            for b in &vectors[i + 1..] {
                total += 1.0 - dot(a, b);
                pairs += 1;
            }
        }
        let got = typical_distance(&tracks);
        assert!(
            (got - total / pairs as f64).abs() < 1e-12,
            "{got} vs {}",
            total / pairs as f64
        );
    }
}
