//! The tidy checks: the crate layers, and run-directory paths only in `mir_table::layout`.
//!
//! Layers: the leaf crates ([`LEAVES`]) depend on no `mir-*` crate; the libraries (every other
//! crate under `crates/`) depend on leaves only, never on each other; `xtask` may depend on
//! everything.

use std::path::Path;

use anyhow::{Context, Result};

/// The crates every library may depend on: the table contract (and, when it exists, the
/// shared audio primitives).
pub const LEAVES: &[&str] = &["mir-table", "mir-audio"];

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
        if LEAVES.contains(&package) {
            Layer::Leaf
        } else {
            Layer::Library
        }
    }

    /// Whether a crate of this layer may depend on `dependency`.
    fn allows(self, dependency: &str) -> bool {
        if !dependency.starts_with("mir-") {
            return true;
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
                (!layer.allows(package)).then(|| (section.clone(), package.to_string()))
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

/// Lines of `source` (before its `#[cfg(test)]` module) holding a string literal that names a
/// run-directory file, which only `mir_table::layout` may spell.
pub fn path_literals(source: &str) -> Vec<(usize, String)> {
    // Written with `\u{22}` for the quote, so this line does not match itself.
    const SPELLINGS: [&str; 4] = [
        ".parquet\u{22}",
        "\u{22}report/",
        "\u{22}probes/",
        "\u{22}embeddings/",
    ];
    source
        .lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter(|(_, l)| SPELLINGS.iter().any(|s| l.contains(s)))
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .collect()
}

/// Checks every `crates/*/Cargo.toml` under `root` and the sources of `xtask` and
/// `mir-report`; the error lists each violation. Returns the number of crates checked.
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
        violations.extend(layout_violations(&root.join(folder))?);
    }
    anyhow::ensure!(violations.is_empty(), "{}", violations.join("\n"));
    Ok(checked)
}

/// [`path_literals`] of every `.rs` file under `dir`.
fn layout_violations(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(layout_violations(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            for (line, code) in path_literals(&text) {
                out.push(format!(
                    "{}:{line}: `{code}` spells a run-directory path; use mir_table::RunLayout",
                    path.display()
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
    fn workspace_is_tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let checked = check_workspace(root).unwrap();
        assert!(checked >= 7, "only {checked} crates found under crates/");
    }
}
