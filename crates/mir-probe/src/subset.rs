//! The training tracks a probe learns from: all of them, `shots` per class, or a
//! `train_fraction` of each class.
//!
//! Each class's training tracks are put in one seeded order (sorted by id, then shuffled by
//! the probe seed) and a probe takes a prefix of it, so for one seed a smaller subset lies
//! inside every larger one, and per-class prefixes keep the class proportions.

use std::collections::BTreeMap;

use mir_table::{Split, TaskType, Track};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

use crate::{Error, ProbeConfig, Result, Task};

/// `tracks` without the training tracks `config` leaves out.
pub(crate) fn training(
    config: &ProbeConfig,
    seed: u64,
    task: &Task,
    tracks: Vec<Track>,
) -> Result<Vec<Track>> {
    let in_train = tracks.iter().filter(|t| t.split == Split::Train).count();
    // A count is the fraction of the training split it makes.
    let fraction = (config.train_fraction.first())
        .map(|&f| {
            if f > 1.0 {
                f / in_train.max(1) as f64
            } else {
                f
            }
        })
        .filter(|&f| f < 1.0);
    if config.shots.is_none() && fraction.is_none() {
        return Ok(tracks);
    }
    let multiclass = task.task_type == TaskType::Multiclass;
    if config.shots.is_some() && !multiclass {
        return Err(Error::InvalidConfig(
            "`shots` counts tracks per class: it is for multiclass tasks".into(),
        ));
    }
    // Multilabel and regression tracks form one group: no class to stratify by.
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in tracks.iter().filter(|t| t.split == Split::Train) {
        let group = match (multiclass, t.labels.first()) {
            (true, Some(label)) => label.as_str(),
            _ => "",
        };
        groups.entry(group).or_default().push(&t.track_id);
    }
    let mut kept = std::collections::HashSet::new();
    for ids in groups.values_mut() {
        ids.sort_unstable();
        ids.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5b5e_7000));
        let n = match (config.shots, fraction) {
            (Some(shots), _) => shots,
            (None, Some(f)) => (f * ids.len() as f64).ceil() as usize,
            (None, None) => ids.len(),
        };
        kept.extend(ids.iter().take(n).map(|id| id.to_string()));
    }
    Ok(tracks
        .into_iter()
        .filter(|t| t.split != Split::Train || kept.contains(&t.track_id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: usize, class: &str) -> Track {
        Track {
            track_id: format!("t{id:03}"),
            audio_uri: String::new(),
            split: Split::Train,
            labels: vec![class.into()],
            targets: None,
            duration_s: 1.0,
            fold: None,
        }
    }

    fn task() -> Task {
        Task {
            task_type: TaskType::Multiclass,
            vocabulary: vec!["a".into(), "b".into()],
            class_of: Default::default(),
        }
    }

    fn kept(config: &ProbeConfig, tracks: &[Track]) -> Vec<String> {
        let out = training(config, 7, &task(), tracks.to_vec()).unwrap();
        out.into_iter().map(|t| t.track_id).collect()
    }

    #[test]
    fn smaller_subsets_lie_inside_larger_ones_with_the_class_proportions() {
        // 80 of class a, 20 of class b.
        let tracks: Vec<Track> = (0..100)
            .map(|i| track(i, if i % 5 == 0 { "b" } else { "a" }))
            .collect();
        let mut previous: Vec<String> = vec![];
        for f in [0.05, 0.25, 0.5, 1.0] {
            let config = ProbeConfig {
                train_fraction: vec![f],
                ..Default::default()
            };
            let ids = kept(&config, &tracks);
            let b = ids
                .iter()
                .filter(|id| {
                    tracks
                        .iter()
                        .any(|t| &t.track_id == *id && t.labels[0] == "b")
                })
                .count();
            assert_eq!(
                ids.len(),
                (80.0 * f).ceil() as usize + (20.0 * f).ceil() as usize
            );
            assert_eq!(b, (20.0 * f).ceil() as usize, "fraction {f}");
            assert!(previous.iter().all(|id| ids.contains(id)), "fraction {f}");
            previous = ids;
        }
    }

    #[test]
    fn shots_take_as_many_tracks_of_each_class() {
        let tracks: Vec<Track> = (0..30).map(|i| track(i, ["a", "b"][i % 2])).collect();
        let config = ProbeConfig {
            shots: Some(4),
            ..Default::default()
        };
        let ids = kept(&config, &tracks);
        assert_eq!(ids.len(), 8);
        let other_seed = training(&config, 8, &task(), tracks.clone()).unwrap();
        assert_ne!(
            ids,
            other_seed
                .into_iter()
                .map(|t| t.track_id)
                .collect::<Vec<_>>(),
            "the seed picks the shots"
        );
    }
}
