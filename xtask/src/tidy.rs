//! The tidy check: `mir-*` crates depend on no sibling but the contract crate `mir-table`.

use std::path::Path;

use anyhow::{Context, Result};

/// The only `mir-*` crate others may depend on.
pub const CONTRACT: &str = "mir-table";

/// Forbidden `mir-*` dependencies declared in one crate manifest, as `(section, dependency)`.
pub fn forbidden_dependencies(manifest: &str) -> Result<Vec<(String, String)>> {
    let doc: toml::Table = toml::from_str(manifest).context("parsing the manifest")?;
    let mut found = Vec::new();
    let mut sections: Vec<(String, &toml::Table)> = Vec::new();
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        if let Some(t) = doc.get(key).and_then(toml::Value::as_table) {
            sections.push((key.to_string(), t));
        }
    }
    if let Some(targets) = doc.get("target").and_then(toml::Value::as_table) {
        for (cfg, t) in targets {
            for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
                if let Some(t) = t.get(key).and_then(toml::Value::as_table) {
                    sections.push((format!("target.{cfg}.{key}"), t));
                }
            }
        }
    }
    for (section, table) in sections {
        for (name, spec) in table {
            // A renamed dependency (`x = { package = "mir-embed" }`) counts by its package.
            let package = spec
                .get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(name);
            if package.starts_with("mir-") && package != CONTRACT {
                found.push((section.clone(), package.to_string()));
            }
        }
    }
    Ok(found)
}

/// Checks every `crates/*/Cargo.toml` under `root`; the error lists each violation.
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
                "{}: [{section}] depends on `{dep}`; crates talk through mir-table's tables, never to each other",
                manifest.display()
            ));
        }
        checked += 1;
    }
    anyhow::ensure!(violations.is_empty(), "{}", violations.join("\n"));
    Ok(checked)
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
    fn checker_accepts_the_contract_crate_alone() {
        let manifest = "[dependencies]\nmir-table.workspace = true\narrow = \"60\"\n";
        assert!(forbidden_dependencies(manifest).unwrap().is_empty());
    }

    #[test]
    fn workspace_is_tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let checked = check_workspace(root).unwrap();
        assert!(checked >= 7, "only {checked} crates found under crates/");
    }
}
