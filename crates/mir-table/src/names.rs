//! The sets of names the tables and configs use, each an enum declared once: its serde names,
//! `Display`, `FromStr` and the list of names all come from the one declaration.

use std::fmt;

/// A name that is not one of its set's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {set} `{found}` (known: {})", known.join(", "))]
pub struct UnknownName {
    /// What the set is (`split`).
    pub set: &'static str,
    /// The name given.
    pub found: String,
    /// The names of the set.
    pub known: &'static [&'static str],
}

macro_rules! names {
    ($(#[$doc:meta])* $set:literal, $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[$name] = &[$($name::$variant),*];
            /// Every name, in declaration order.
            pub const NAMES: &[&str] = &[$($text),*];

            /// The name written in tables and configs.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)*
                    _ => Err(UnknownName { set: $set, found: s.into(), known: Self::NAMES }),
                }
            }
        }
    };
}

names! {
    /// The split a track belongs to (`split` of `tracks` and `predictions`).
    "split", Split {
        /// Trains the probe.
        Train = "train",
        /// Selects the epoch and hyperparameters.
        Validation = "validation",
        /// Scores the probe.
        Test = "test",
    }
}

names! {
    /// Where a track failed (`stage` of `failures`).
    "failure stage", FailureStage {
        /// Its audio could not be decoded.
        Decode = "decode",
        /// A deformation could not be applied.
        Deform = "deform",
        /// The model could not embed it.
        Embed = "embed",
    }
}

names! {
    /// A named pivot of the `metrics` table: the report's table presets, in the order a
    /// report shows them.
    "table preset", Preset {
        /// Model (rows) by task (columns), each task's primary metric, clean audio.
        Overview = "overview",
        /// Model (rows) by deformation (columns) for one metric, with the drop from clean.
        Robustness = "robustness",
        /// Model (rows) by probe (columns), clean audio.
        Probes = "probes",
        /// Layer (rows) by task (columns) for each model with several layers, clean audio.
        Layers = "layers",
        /// Model (rows) by regression metric (columns): R², Pearson and Spearman, averaged
        /// over the targets and per target, clean audio, a table per regression task.
        Regression = "regression",
        /// Tag (rows) by model and metric (columns): ROC-AUC and PR-AUC per tag under their
        /// macro averages, clean audio, a table per tagging task.
        Tags = "tags",
        /// System (rows) against system (columns): the paired difference on one metric with
        /// its Holm-adjusted p-value, from the `significance` table, a table per (dataset,
        /// task, deformation, seed).
        Significance = "significance",
        /// Pairs of tracks with the same or nearly the same audio (rows) with their splits,
        /// from the `duplicates` table (a config's `hygiene:`), a table per (dataset, task).
        Duplicates = "duplicates",
    }
}

names! {
    /// A stage of an experiment, in order: what `--stage` runs alone and `--force` recomputes
    /// (with the later ones).
    "stage", Stage {
        /// Datasets prepared (downloaded, rendered) and parsed into `tracks` tables.
        Datasets = "datasets",
        /// Audio decoded, deformed and embedded into `embeddings` tables.
        Extract = "extract",
        /// Probes trained: `predictions` and `training_log` per probe run.
        Train = "train",
        /// Metrics, confusion matrices and the report.
        Evaluate = "evaluate",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known() {
        for s in Split::ALL {
            assert_eq!(s.name().parse::<Split>(), Ok(*s));
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
        }
        let e = "dev".parse::<Split>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown split `dev` (known: train, validation, test)"
        );
        assert_eq!(FailureStage::Embed.to_string(), "embed");
    }
}
