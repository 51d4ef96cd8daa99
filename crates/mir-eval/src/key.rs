//! Musical keys and the MIREX weighted key score, as `mir_eval.key.weighted_score` (0.8) defines it.

/// A key: tonic in semitones above C, and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// Tonic, 0 (C) to 11 (B); enharmonic spellings are equal.
    pub tonic: u8,
    /// `true` for major, `false` for minor.
    pub major: bool,
}

/// Parses `"C# major"`, `"Db minor"`, `"a minor"` (case-insensitive, sharps or flats).
pub fn parse(s: &str) -> Option<Key> {
    let mut parts = s.split_whitespace();
    let (tonic, mode) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let tonic = pitch_class(tonic)?;
    let major = match mode.to_ascii_lowercase().as_str() {
        "major" | "maj" => true,
        "minor" | "min" => false,
        _ => return None,
    };
    Some(Key { tonic, major })
}

/// Semitones above C of a note name without octave (`C`, `c#`, `Db`, `B#` is not accepted).
pub fn pitch_class(s: &str) -> Option<u8> {
    let lower = s.to_ascii_lowercase();
    let mut chars = lower.chars();
    let base: i32 = match chars.next()? {
        'c' => 0,
        'd' => 2,
        'e' => 4,
        'f' => 5,
        'g' => 7,
        'a' => 9,
        'b' => 11,
        _ => return None,
    };
    let shift: i32 = match chars.as_str() {
        "" => 0,
        "#" => 1,
        "b" => -1,
        _ => return None,
    };
    Some((base + shift).rem_euclid(12) as u8)
}

/// How an estimated key relates to the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Same tonic and mode: 1.0.
    Correct,
    /// Same mode, estimate a perfect fifth above: 0.5.
    Fifth,
    /// Relative major or minor: 0.3.
    Relative,
    /// Same tonic, other mode: 0.2.
    Parallel,
    /// Anything else: 0.
    Other,
}

impl Relation {
    /// The MIREX weight.
    pub fn score(self) -> f64 {
        match self {
            Relation::Correct => 1.0,
            Relation::Fifth => 0.5,
            Relation::Relative => 0.3,
            Relation::Parallel => 0.2,
            Relation::Other => 0.0,
        }
    }

    /// The metric of the share of tracks in this relation: `mirex_<relation>`.
    pub fn metric(self) -> &'static str {
        match self {
            Relation::Correct => "mirex_correct",
            Relation::Fifth => "mirex_fifth",
            Relation::Relative => "mirex_relative",
            Relation::Parallel => "mirex_parallel",
            Relation::Other => "mirex_other",
        }
    }

    /// Every relation, in score order.
    pub const ALL: [Relation; 5] = [
        Relation::Correct,
        Relation::Fifth,
        Relation::Relative,
        Relation::Parallel,
        Relation::Other,
    ];
}

/// The relation of `estimate` to `reference`, in the order `mir_eval` checks them.
pub fn relation(reference: Key, estimate: Key) -> Relation {
    let up = (i32::from(estimate.tonic) - i32::from(reference.tonic)).rem_euclid(12);
    if reference == estimate {
        Relation::Correct
    } else if estimate.major == reference.major && up == 7 {
        Relation::Fifth
    } else if (reference.major && !estimate.major && up == 9)
        || (!reference.major && estimate.major && up == 3)
    {
        // Relative minor (9 semitones up) of a major reference, relative major (3 up) of a minor one.
        Relation::Relative
    } else if reference.tonic == estimate.tonic {
        Relation::Parallel
    } else {
        Relation::Other
    }
}

/// `mir_eval.key.weighted_score(reference, estimate)` on key strings; `None` if either does not parse.
pub fn weighted_score(reference: &str, estimate: &str) -> Option<f64> {
    Some(relation(parse(reference)?, parse(estimate)?).score())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mir_eval_test_pairs() {
        // The pairs of mir_eval's own tests (tests/test_key.py), scores from
        // mir_eval.key.weighted_score, mir_eval 0.8.2.
        for (r, e, s) in [
            ("C major", "C major", 1.0),
            ("Db minor", "Ab minor", 0.5),
            ("A minor", "D major", 0.0),
            ("A major", "F# minor", 0.3),
            ("F# minor", "A major", 0.3),
            ("Gb major", "Gb minor", 0.2),
            ("G major", "C major", 0.0),
            ("A minor", "C minor", 0.0),
        ] {
            assert_eq!(weighted_score(r, e), Some(s), "{r} vs {e}");
        }
    }

    #[test]
    fn enharmonics_are_equal_and_junk_is_refused() {
        assert_eq!(parse("C# major"), parse("db MAJOR"));
        assert_eq!(parse("C#"), None);
        assert_eq!(parse("H major"), None);
        assert_eq!(parse("C major extra"), None);
    }
}
