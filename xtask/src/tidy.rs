//! The tidy checks: the crate layers, and run-directory paths only in `mir_table::layout`.
//!
//! Layers: the leaf crates ([`LEAVES`]) depend on no `mir-*` crate; the libraries (every other
//! crate under `crates/`) depend on leaves only, never on each other; `xtask` may depend on
//! everything. The test kit ([`TEST_KIT`]) is a dev-dependency only, and depends on no `mir-*`
//! crate itself.

use std::path::Path;

use anyhow::{Context, Result};

/// The crates every library may depend on: the table contract and the shared audio
/// primitives.
pub const LEAVES: &[&str] = &[CONTRACT, "mir-audio"];

/// The table contract, the one crate that spells split names and run paths.
pub const CONTRACT: &str = "mir-table";

/// The helpers of the tests, which no crate may depend on outside `[dev-dependencies]`.
pub const TEST_KIT: &str = "mir-testkit";

/// Where a crate sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// A leaf: no `mir-*` dependency at all.
    Leaf,
    /// A library: leaves only.
    Library,
}

impl Layer {
    /// The layer of the crate named `package`.
    pub fn of(package: &str) -> Self {
        if LEAVES.contains(&package) || package == TEST_KIT {
            Layer::Leaf
        } else {
            Layer::Library
        }
    }

    /// Whether a crate of this layer may depend on `dependency` in `section`.
    fn allows(self, section: &str, dependency: &str) -> bool {
        if !dependency.starts_with("mir-") {
            return true;
        }
        if dependency == TEST_KIT {
            return section.ends_with("dev-dependencies");
        }
        match self {
            Layer::Leaf => false,
            Layer::Library => LEAVES.contains(&dependency),
        }
    }
}

/// Forbidden `mir-*` dependencies declared in one crate manifest, as `(section, dependency)`.
pub fn forbidden_dependencies(manifest: &str) -> Result<Vec<(String, String)>> {
    let doc: toml::Table = toml::from_str(manifest).context("parsing the manifest")?;
    let name = doc
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .unwrap_or_default();
    let layer = Layer::of(name);
    let found = dependency_sections(&doc)
        .into_iter()
        .flat_map(|(section, table)| {
            table.iter().filter_map(move |(key, spec)| {
                // A renamed dependency (`x = { package = "mir-embed" }`) counts by its package.
                let package = spec
                    .get("package")
                    .and_then(toml::Value::as_str)
                    .unwrap_or(key);
                let allowed = layer.allows(&section, package);
                (!allowed).then(|| (section.clone(), package.to_string()))
            })
        })
        .collect();
    Ok(found)
}

/// Every `[*dependencies]` table of a manifest, platform-specific ones included.
fn dependency_sections(doc: &toml::Table) -> Vec<(String, &toml::Table)> {
    const KINDS: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];
    let mut sections = Vec::new();
    for key in KINDS {
        if let Some(t) = doc.get(key).and_then(toml::Value::as_table) {
            sections.push((key.to_string(), t));
        }
    }
    let targets = doc.get("target").and_then(toml::Value::as_table);
    for (cfg, t) in targets.into_iter().flatten() {
        for key in KINDS {
            if let Some(t) = t.get(key).and_then(toml::Value::as_table) {
                sections.push((format!("target.{cfg}.{key}"), t));
            }
        }
    }
    sections
}

/// A set of names that only one module may spell as string literals.
struct Spelling {
    /// What the rule protects, for the message.
    what: &'static str,
    /// The substrings that count as spelling it.
    spellings: &'static [&'static str],
    /// Where it lives instead.
    home: &'static str,
}

// Written with `\u{22}` for the quote, so these lines do not match themselves.
/// Run-directory paths: only `mir_table::layout` spells them.
const PATHS: Spelling = Spelling {
    what: "a run-directory path",
    spellings: &[
        ".parquet\u{22}",
        "\u{22}report/",
        "\u{22}probes/",
        "\u{22}embeddings/",
    ],
    home: "mir_table::RunLayout",
};

/// Split names: only `mir_table::Split` spells them.
const SPLITS: Spelling = Spelling {
    what: "a split name",
    spellings: &[
        "\u{22}train\u{22}",
        "\u{22}validation\u{22}",
        "\u{22}test\u{22}",
    ],
    home: "mir_table::Split",
};

/// The undeformed condition's name: only `mir_table::CLEAN` spells it.
const CONDITIONS: Spelling = Spelling {
    what: "the clean condition's name",
    spellings: &["\u{22}clean\u{22}"],
    home: "mir_table::CLEAN",
};

/// A line that spells a protected name for another reason says so with this comment.
const EXEMPT: &str = "// tidy: not a split";

/// Lines of `source` (before its `#[cfg(test)]` module) holding a string literal that spells
/// one of `rule`'s names, but comments and lines marked [`EXEMPT`].
fn spelled(source: &str, rule: &Spelling) -> Vec<(usize, String)> {
    source
        .lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//") && !l.contains(EXEMPT))
        .filter(|(_, l)| rule.spellings.iter().any(|s| l.contains(s)))
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .collect()
}

/// Lines of `source` that spell a run-directory path, which only `mir_table::layout` may.
pub fn path_literals(source: &str) -> Vec<(usize, String)> {
    spelled(source, &PATHS)
}

/// Lines of `source` that spell a split name, which only `mir_table::Split` may.
pub fn split_literals(source: &str) -> Vec<(usize, String)> {
    spelled(source, &SPLITS)
}

/// Checks every `crates/*/Cargo.toml` under `root`, that only the layout spells run paths
/// (in `xtask` and `mir-report`), and that only `mir-table` spells split names and the clean
/// condition; the error lists each violation. Returns the number of crates checked.
pub fn check_workspace(root: &Path) -> Result<usize> {
    let mut violations = Vec::new();
    let mut checked = 0;
    let dir = root.join("crates");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let manifest = entry.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        for (section, dep) in
            forbidden_dependencies(&text).with_context(|| format!("in {}", manifest.display()))?
        {
            violations.push(format!(
                "{}: [{section}] depends on `{dep}`; libraries depend on the leaves ({}) only, \
                 leaves on no mir-* crate",
                manifest.display(),
                LEAVES.join(", ")
            ));
        }
        checked += 1;
    }
    for folder in ["xtask/src", "crates/mir-report/src"] {
        violations.extend(spelling_violations(&root.join(folder), &PATHS)?);
    }
    for entry in std::fs::read_dir(&dir)? {
        let crate_dir = entry?.path();
        let src = crate_dir.join("src");
        if src.is_dir() && !crate_dir.ends_with(CONTRACT) {
            for rule in [&SPLITS, &CONDITIONS] {
                violations.extend(spelling_violations(&src, rule)?);
            }
        }
    }
    for rule in [&SPLITS, &CONDITIONS] {
        violations.extend(spelling_violations(&root.join("xtask/src"), rule)?);
    }
    anyhow::ensure!(violations.is_empty(), "{}", violations.join("\n"));
    Ok(checked)
}

/// The lines of every `.rs` file under `dir` that break `rule`.
fn spelling_violations(dir: &Path, rule: &Spelling) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(spelling_violations(&path, rule)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            for (line, code) in spelled(&text, rule) {
                out.push(format!(
                    "{}:{line}: `{code}` spells {}; use {}",
                    path.display(),
                    rule.what,
                    rule.home
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checker_flags_sibling_dependencies_in_every_section() {
        let manifest = r#"
[package]
name = "mir-probe"

[dependencies]
mir-table = { path = "../mir-table" }
mir-audio = { path = "../mir-audio" }
mir-embed = { path = "../mir-embed" }
serde = "1"

[dev-dependencies]
evaluation = { package = "mir-eval", path = "../mir-eval" }

[target.'cfg(unix)'.dependencies]
mir-report.workspace = true
"#;
        let found = forbidden_dependencies(manifest).unwrap();
        assert_eq!(
            found,
            vec![
                ("dependencies".to_string(), "mir-embed".to_string()),
                ("dev-dependencies".to_string(), "mir-eval".to_string()),
                (
                    "target.cfg(unix).dependencies".to_string(),
                    "mir-report".to_string()
                ),
            ]
        );
    }

    #[test]
    fn a_leaf_may_depend_on_no_mir_crate() {
        let manifest =
            "[package]\nname = \"mir-audio\"\n[dependencies]\nmir-table.workspace = true\n";
        assert_eq!(
            forbidden_dependencies(manifest).unwrap(),
            vec![("dependencies".to_string(), "mir-table".to_string())]
        );
    }

    #[test]
    fn the_test_kit_is_a_dev_dependency_only() {
        let manifest = "[package]\nname = \"mir-eval\"\n[dependencies]\nmir-testkit.workspace = true\n[dev-dependencies]\nmir-testkit.workspace = true\n";
        assert_eq!(
            forbidden_dependencies(manifest).unwrap(),
            vec![("dependencies".to_string(), "mir-testkit".to_string())]
        );
    }

    #[test]
    fn checker_accepts_the_leaves() {
        let manifest = "[package]\nname = \"mir-eval\"\n[dependencies]\nmir-table.workspace = true\nmir-audio.workspace = true\narrow = \"60\"\n";
        assert!(forbidden_dependencies(manifest).unwrap().is_empty());
    }

    #[test]
    fn path_literals_are_found_outside_tests_and_comments() {
        let source = "let a = \"metrics.parquet\";\n// \"probes/x\"\nlet b = format!(\"report/{x}\");\n#[cfg(test)]\nlet c = \"x.parquet\";\n";
        let found: Vec<usize> = path_literals(source).into_iter().map(|(l, _)| l).collect();
        assert_eq!(found, vec![1, 3]);
    }

    #[test]
    fn split_literals_are_found_unless_exempt() {
        let source = "if s == \"test\" {}\nlet args = [\"test\"]; // tidy: not a split\n";
        let found: Vec<usize> = split_literals(source).into_iter().map(|(l, _)| l).collect();
        assert_eq!(found, vec![1]);
    }

    #[test]
    fn workspace_is_tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let checked = check_workspace(root).unwrap();
        assert!(checked >= 7, "only {checked} crates found under crates/");
    }
}
