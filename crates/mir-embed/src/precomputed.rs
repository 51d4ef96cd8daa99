//! Embeddings computed elsewhere, read instead of computed: a folder of `<track_id>.npy` files
//! (the Python mir_ref's layout: float32 or float64, shape `[dim]` or `[windows, dim]`), or
//! `embeddings` tables in our contract (one Parquet file, or a folder of them).
//!
//! ```yaml
//! models:
//!   theirs:
//!     type: precomputed
//!     path: exported/openl3           # clean audio: exported/openl3/<track_id>.npy
//!     deformations: {white_noise_20db: exported/openl3-noise20}
//!     layer: embedding                # the layer's name (.npy files hold one)
//!     hop_s: 0.5                      # window starts of [windows, dim] files
//! ```
//!
//! A track whose file is missing or malformed is a failure naming the file; a deformation with
//! no folder has no embeddings (its test metrics are absent). Tables carry their deformations
//! in their `deformation` column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mir_table::{CLEAN, TableKind, keys};
use serde::{Deserialize, Serialize};

use crate::{Embedder, Error, ModelInfo, Result, WindowEmbedding};

fn d_layer() -> String {
    "embedding".into()
}

/// Precomputed embeddings in the experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrecomputedConfig {
    /// A folder of `<track_id>.npy` files for the clean audio, or a Parquet `embeddings`
    /// table or folder of them.
    pub path: PathBuf,
    /// For `.npy` folders: the folder of each deformation's embeddings.
    #[serde(default)]
    pub deformations: BTreeMap<String, PathBuf>,
    /// For `.npy` folders: the layer's name.
    #[serde(default = "d_layer")]
    pub layer: String,
    /// For `.npy` files of several windows: seconds between window starts (the `start_s`
    /// column; 0 when unknown).
    #[serde(default)]
    pub hop_s: f64,
}

impl PrecomputedConfig {
    /// The paths the config names, to resolve against the config's folder.
    pub fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        std::iter::once(&mut self.path)
            .chain(self.deformations.values_mut())
            .collect()
    }
}

/// Where the embeddings are.
enum Source {
    /// `.npy` folders by condition, with the one layer's width.
    Npy(BTreeMap<String, PathBuf>, usize),
    /// Rows of Parquet tables by (track, condition).
    Tables(BTreeMap<(String, String), Vec<WindowEmbedding>>),
}

/// Precomputed embeddings, opened. [`Embedder::stored`] gives a track's rows.
pub struct Precomputed {
    config: PrecomputedConfig,
    source: Source,
    layers: Vec<String>,
    dims: Vec<usize>,
    window_s: f64,
    sha256: String,
}

impl std::fmt::Debug for Precomputed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Precomputed")
            .field("path", &self.config.path)
            .finish_non_exhaustive()
    }
}

impl Precomputed {
    /// Opens the folder or tables: learns the layers and their widths (from the first `.npy`
    /// file, or the tables) and fingerprints every file (path, size, modification time).
    pub fn open(config: &PrecomputedConfig) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidConfig {
            model: config.path.display().to_string(),
            reason,
        };
        let mut folders = BTreeMap::from([(CLEAN.to_string(), config.path.clone())]);
        folders.extend(config.deformations.clone());
        let mut files = Vec::new();
        for folder in folders.values() {
            files.extend(listing(folder).map_err(|e| invalid(e.to_string()))?);
        }
        let sha256 = fingerprint(config, &files);
        let parquet: Vec<&PathBuf> = (files.iter())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        if !parquet.is_empty() {
            if !config.deformations.is_empty() {
                return Err(invalid(
                    "tables carry their deformations in their `deformation` column; \
                     `deformations` is for .npy folders"
                        .into(),
                ));
            }
            let (rows, layers, dims, window_s) = read_tables(&parquet)?;
            return Ok(Self {
                config: config.clone(),
                source: Source::Tables(rows),
                layers,
                dims,
                window_s,
                sha256,
            });
        }
        let first = files
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "npy"))
            .ok_or_else(|| {
                invalid(format!(
                    "no .npy file (nor Parquet table) under {}",
                    config.path.display()
                ))
            })?;
        let dim = read_npy(first)?.first().map_or(0, Vec::len);
        Ok(Self {
            config: config.clone(),
            source: Source::Npy(folders, dim),
            layers: vec![config.layer.clone()],
            dims: vec![dim],
            window_s: 0.0,
            sha256,
        })
    }
}

impl Embedder for Precomputed {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            name: "precomputed".into(),
            version: String::new(),
            license: String::new(),
            sha256: self.sha256.clone(),
            sample_rate_hz: 0,
            window_s: self.window_s,
            hop_s: self.config.hop_s,
            layers: self.layers.clone(),
            dims: self.dims.clone(),
            source: Some(self.config.path.display().to_string()),
        }
    }

    fn embed(&self, _samples: &[f32]) -> Result<Vec<WindowEmbedding>> {
        Err(Error::InvalidConfig {
            model: self.config.path.display().to_string(),
            reason: "precomputed embeddings are read by track, not computed from audio".into(),
        })
    }

    fn reads_stored(&self) -> bool {
        true
    }

    fn stored(&self, track_id: &str, condition: &str) -> Result<Option<Vec<WindowEmbedding>>> {
        match &self.source {
            Source::Tables(rows) => {
                let key = (track_id.to_string(), condition.to_string());
                match rows.get(&key) {
                    Some(r) => Ok(Some(r.clone())),
                    None if condition != CLEAN => Ok(None),
                    None => Err(self.failure(format!(
                        "no rows of track `{track_id}` in the tables under {}",
                        self.config.path.display()
                    ))),
                }
            }
            Source::Npy(folders, dim) => {
                let Some(folder) = folders.get(condition) else {
                    return Ok(None);
                };
                let file = folder.join(format!("{track_id}.npy"));
                let vectors = read_npy(&file)?;
                if let Some(v) = vectors.iter().find(|v| v.len() != *dim) {
                    return Err(self.failure(format!(
                        "{}: {} values per window, where the other files have {dim}",
                        file.display(),
                        v.len()
                    )));
                }
                Ok(Some(self.windows(vectors)))
            }
        }
    }
}

impl Precomputed {
    fn failure(&self, reason: String) -> Error {
        Error::Extraction {
            model: "precomputed".into(),
            reason,
        }
    }

    /// One `.npy` file's vectors as window rows of layer 0.
    fn windows(&self, vectors: Vec<Vec<f32>>) -> Vec<WindowEmbedding> {
        (vectors.into_iter().enumerate())
            .map(|(k, embedding)| WindowEmbedding {
                layer: 0,
                window: k as i32,
                start_s: (k as f64 * self.config.hop_s) as f32,
                embedding,
            })
            .collect()
    }
}

/// Every file under `path` (itself, if a file), sorted.
fn listing(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path)? {
        out.extend(listing(&entry?.path())?);
    }
    out.sort();
    Ok(out)
}

/// SHA-256 of the config and of each file's path, size and modification time.
fn fingerprint(config: &PrecomputedConfig, files: &[PathBuf]) -> String {
    let mut text = serde_json::to_string(config).unwrap_or_default();
    for f in files {
        let meta = std::fs::metadata(f).ok();
        let modified = meta.as_ref().and_then(|m| m.modified().ok());
        let size = meta.map_or(0, |m| m.len());
        text.push_str(&format!("\n{} {size} {modified:?}", f.display()));
    }
    crate::sha256_hex(text.as_bytes())
}

/// The rows of `embeddings` tables by (track, condition), with the layers' names (the first
/// table's `layers` metadata, else `layer_<k>`), their widths, and the window length.
type TableRows = (
    BTreeMap<(String, String), Vec<WindowEmbedding>>,
    Vec<String>,
    Vec<usize>,
    f64,
);

fn read_tables(files: &[&PathBuf]) -> Result<TableRows> {
    let mut rows: BTreeMap<(String, String), Vec<WindowEmbedding>> = BTreeMap::new();
    let mut dims: BTreeMap<i32, usize> = BTreeMap::new();
    let (mut names, mut window_s) = (None::<Vec<String>>, 0.0);
    for file in files {
        let invalid = |reason: String| Error::InvalidConfig {
            model: file.display().to_string(),
            reason,
        };
        let bytes = std::fs::read(file).map_err(|e| invalid(e.to_string()))?;
        let table = mir_table::decode(bytes.into(), TableKind::Embeddings)
            .map_err(|e| invalid(e.to_string()))?;
        let meta = table.schema.metadata();
        if names.is_none() {
            names = meta
                .get(keys::LAYERS)
                .and_then(|j| serde_json::from_str(j).ok());
            window_s = meta
                .get(keys::WINDOW_S)
                .and_then(|w| w.parse().ok())
                .unwrap_or(0.0);
        }
        for r in mir_table::read_embeddings(&table).map_err(|e| invalid(e.to_string()))? {
            if *dims.entry(r.layer).or_insert(r.embedding.len()) != r.embedding.len() {
                return Err(invalid(format!(
                    "layer {} has rows of {} and {} values",
                    r.layer,
                    dims[&r.layer],
                    r.embedding.len()
                )));
            }
            rows.entry((r.track_id, r.deformation))
                .or_default()
                .push(WindowEmbedding {
                    layer: r.layer,
                    window: r.window,
                    start_s: r.start_s,
                    embedding: r.embedding,
                });
        }
    }
    let layers: Vec<i32> = dims.keys().copied().collect();
    if layers != (0..layers.len() as i32).collect::<Vec<_>>() {
        return Err(Error::InvalidConfig {
            model: files[0].display().to_string(),
            reason: format!("the `layer` column holds {layers:?}: layers must be 0, 1, ..."),
        });
    }
    let names = (names.filter(|n| n.len() == layers.len()))
        .unwrap_or_else(|| layers.iter().map(|l| format!("layer_{l}")).collect());
    for windows in rows.values_mut() {
        windows.sort_by_key(|w| (w.layer, w.window));
    }
    Ok((rows, names, dims.into_values().collect(), window_s))
}

/// The vectors of a `.npy` file: float32 or float64 (little-endian, C order), shape `[dim]`
/// (one window) or `[windows, dim]`. Errors name the file and what is wrong.
/// (Format: <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>.)
pub fn read_npy(file: &Path) -> Result<Vec<Vec<f32>>> {
    let fail = |reason: String| Error::Extraction {
        model: "precomputed".into(),
        reason: format!("{}: {reason}", file.display()),
    };
    let bytes = std::fs::read(file).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let (header, data) = npy_header(&bytes).map_err(fail)?;
    let field = |key: &str| {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr").and_then(|r| r.split('\'').nth(1));
    let width = match descr {
        Some("<f4") => 4,
        Some("<f8") => 8,
        other => {
            return Err(fail(format!(
                "dtype {other:?}: expected float32 ('<f4') or float64 ('<f8')"
            )));
        }
    };
    if field("fortran_order").is_some_and(|r| r.starts_with("True")) {
        return Err(fail("Fortran order: save it with C order".into()));
    }
    let shape: Vec<usize> = field("shape")
        .and_then(|r| r.strip_prefix('(')?.split(')').next())
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::parse)
                .collect::<std::result::Result<_, _>>()
        })
        .and_then(std::result::Result::ok)
        .ok_or_else(|| fail(format!("no shape in its header {header:?}")))?;
    let (windows, dim) = match shape[..] {
        [dim] => (1, dim),
        [windows, dim] if windows > 0 => (windows, dim),
        _ => {
            return Err(fail(format!(
                "shape {shape:?}: expected [dim] or [windows, dim] with windows > 0"
            )));
        }
    };
    if data.len() != windows * dim * width {
        return Err(fail(format!(
            "{} bytes of data, where shape {shape:?} needs {}",
            data.len(),
            windows * dim * width
        )));
    }
    let values: Vec<f32> = if width == 4 {
        data.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        data.chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32)
            .collect()
    };
    Ok(values.chunks(dim.max(1)).map(<[f32]>::to_vec).collect())
}

/// The header text and the data of a `.npy` file.
fn npy_header(bytes: &[u8]) -> std::result::Result<(&str, &[u8]), String> {
    let not = || "not a .npy file (no \\x93NUMPY magic)".to_string();
    let rest = bytes.strip_prefix(b"\x93NUMPY").ok_or_else(not)?;
    let (major, rest) = rest.split_first().ok_or_else(not)?;
    let rest = rest.get(1..).ok_or_else(not)?;
    let (len, rest) = match major {
        1 => {
            let n = rest.get(..2).ok_or_else(not)?;
            (usize::from(u16::from_le_bytes([n[0], n[1]])), &rest[2..])
        }
        2 | 3 => {
            let n = rest.get(..4).ok_or_else(not)?;
            let n = u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize;
            (n, &rest[4..])
        }
        v => return Err(format!("format version {v}: expected 1, 2 or 3")),
    };
    let header = rest.get(..len).ok_or("the header is cut short")?;
    let header = std::str::from_utf8(header).map_err(|_| "the header is not text")?;
    Ok((header, &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::read_npy;

    /// A version-1 `.npy` file with `header` (padded) and `data`.
    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut h = header.to_string();
        while !(11 + h.len()).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn npy_files_are_read_or_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let read = |name: &str, bytes: Vec<u8>| {
            let file = dir.path().join(name);
            std::fs::write(&file, bytes).unwrap();
            read_npy(&file).map_err(|e| e.to_string())
        };
        let f32s: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let two = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        assert_eq!(
            read("a.npy", npy(two, &f32s)).unwrap(),
            [vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]
        );
        let f64s: Vec<u8> = [0.5f64, -1.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let flat = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
        assert_eq!(read("b.npy", npy(flat, &f64s)).unwrap(), [vec![0.5, -1.5]]);
        let cases = [
            (two.replace("<f4", "<i8"), &f32s[..], "expected float32"),
            (two.replace("False", "True"), &f32s[..], "Fortran order"),
            (
                two.replace("(2, 3)", "(1, 2, 3)"),
                &f32s[..],
                "expected [dim] or [windows, dim]",
            ),
            (
                two.to_string(),
                &f32s[..20],
                "20 bytes of data, where shape [2, 3] needs 24",
            ),
        ];
        for (header, data, reason) in cases {
            let err = read("c.npy", npy(&header, data)).unwrap_err();
            assert!(err.contains(reason) && err.contains("c.npy"), "{err}");
        }
        let err = read("d.npy", b"\x93NUMPY\x07\x00".to_vec()).unwrap_err();
        assert!(err.contains("format version 7"), "{err}");
        let err = read("e.npy", b"PK\x03\x04".to_vec()).unwrap_err();
        assert!(err.contains("not a .npy file"), "{err}");
    }
}
