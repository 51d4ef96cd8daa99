//! Split hygiene: pairs of tracks whose audio is the same (`exact`: equal digests of the
//! decoded samples) or nearly so (`near`: the cosine of their standardised summaries above a
//! threshold), with the splits each lands in. A pair across splits leaks: the test set holds
//! a copy of a training track.

use std::collections::BTreeMap;

use mir_table::{DuplicateRow, Split};

/// What the check knows of one track: its decoded audio's digest and a summary vector (the
/// built-in log-mel's band statistics, say).
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    /// The track.
    pub track_id: String,
    /// SHA-256 of the decoded samples.
    pub digest: String,
    /// The summary the near-duplicate cosine compares.
    pub summary: Vec<f32>,
}

/// Exact and near duplicates among `prints`, in the splits `splits` gives (tracks without a
/// split are left out), each pair once with the smaller id first. Summaries are standardised
/// per dimension over the dataset before the cosine, so that what every track shares (the
/// level of a log-mel band) does not make all pairs look alike.
pub fn duplicates(
    dataset: &str,
    task: &str,
    prints: &[Fingerprint],
    splits: &BTreeMap<String, Split>,
    near_cosine: f64,
) -> Vec<DuplicateRow> {
    let mut kept: Vec<&Fingerprint> = (prints.iter())
        .filter(|p| splits.contains_key(&p.track_id))
        .collect();
    kept.sort_by(|a, b| a.track_id.cmp(&b.track_id));
    let unit = standardised(&kept);
    let mut rows = Vec::new();
    for i in 0..kept.len() {
        for j in i + 1..kept.len() {
            let cosine: f64 = unit[i].iter().zip(&unit[j]).map(|(a, b)| a * b).sum();
            let kind = match (kept[i].digest == kept[j].digest, cosine >= near_cosine) {
                (true, _) => "exact",
                (false, true) => "near",
                (false, false) => continue,
            };
            let side = |p: &Fingerprint| (p.track_id.clone(), splits[&p.track_id]);
            rows.push(DuplicateRow {
                dataset: dataset.to_owned(),
                task: task.to_owned(),
                a: side(kept[i]),
                b: side(kept[j]),
                kind: kind.to_owned(),
                cosine,
            });
        }
    }
    rows
}

/// Each summary minus the dimension's mean over `prints`, over its standard deviation, then
/// scaled to unit length (a zero vector stays zero).
fn standardised(prints: &[&Fingerprint]) -> Vec<Vec<f64>> {
    let dim = prints.first().map_or(0, |p| p.summary.len());
    let n = prints.len().max(1) as f64;
    let mut mean = vec![0f64; dim];
    let mut sq = vec![0f64; dim];
    for p in prints {
        for (k, &v) in p.summary.iter().enumerate().take(dim) {
            mean[k] += f64::from(v) / n;
            sq[k] += f64::from(v) * f64::from(v) / n;
        }
    }
    let sd: Vec<f64> = (mean.iter().zip(&sq))
        .map(|(m, s)| (s - m * m).max(0.0).sqrt())
        .map(|s| if s > 1e-12 { s } else { 1.0 })
        .collect();
    prints
        .iter()
        .map(|p| {
            let z: Vec<f64> = (0..dim)
                .map(|k| (f64::from(p.summary.get(k).copied().unwrap_or(0.0)) - mean[k]) / sd[k])
                .collect();
            let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt();
            z.into_iter()
                .map(|v| if norm > 0.0 { v / norm } else { 0.0 })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(id: &str, digest: &str, summary: Vec<f32>) -> Fingerprint {
        Fingerprint {
            track_id: id.into(),
            digest: digest.into(),
            summary,
        }
    }

    #[test]
    fn exact_and_near_pairs_are_found_with_their_splits() {
        let prints = [
            print("a", "d1", vec![1.0, 0.0, 3.0]),
            print("b", "d1", vec![1.0, 0.0, 3.0]),
            print("c", "d2", vec![-2.0, 5.0, 0.0]),
            print("d", "d3", vec![-2.0, 5.0, 0.01]),
            print("e", "d4", vec![4.0, -3.0, -2.0]),
        ];
        let splits: BTreeMap<String, Split> = [
            ("a", Split::Train),
            ("b", Split::Test),
            ("c", Split::Train),
            ("d", Split::Train),
            ("e", Split::Test),
        ]
        .into_iter()
        .map(|(id, s)| (id.to_owned(), s))
        .collect();
        let rows = duplicates("ds", "t", &prints, &splits, 0.99);
        let pairs: Vec<(&str, &str, &str)> = (rows.iter())
            .map(|r| (r.a.0.as_str(), r.b.0.as_str(), r.kind.as_str()))
            .collect();
        assert_eq!(pairs, [("a", "b", "exact"), ("c", "d", "near")]);
        assert_eq!((rows[0].a.1, rows[0].b.1), (Split::Train, Split::Test));
        assert!((rows[0].cosine - 1.0).abs() < 1e-12);
    }
}
