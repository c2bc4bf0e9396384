//! The manifests `oc-operator plan` reads: every `.yaml` and `.yml` file under the paths
//! given (folders recursively, in name order), each document on its own. The six kinds
//! of the operator and Secrets (carrier passwords) are kept; anything else (Namespaces,
//! kustomization.yaml) is passed over.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::Error;

/// The documents read, as JSON, with the file each came from.
#[derive(Debug, Default)]
pub struct Manifests {
    pub objects: Vec<(PathBuf, Value)>,
}

/// The kinds kept.
pub const KINDS: [&str; 7] = [
    "OCPlatform",
    "OCCustomer",
    "OCNumberBlock",
    "OCSipConnection",
    "OCDialPlan",
    "OCEndUser",
    "Secret",
];

/// Reads every manifest under `paths`.
pub fn read(paths: &[PathBuf]) -> Result<Manifests, Error> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    let mut manifests = Manifests::default();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| Error::Read {
            path: file.clone(),
            source,
        })?;
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).map_err(|source| Error::Yaml {
                path: file.clone(),
                source,
            })?;
            let kind = value["kind"].as_str().unwrap_or_default();
            if KINDS.contains(&kind) {
                manifests.objects.push((file.clone(), value));
            }
        }
    }
    Ok(manifests)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), Error> {
    let read_error = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read_error)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            collect(&entry, files)?;
        }
        return Ok(());
    }
    let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if yaml {
        files.push(path.to_owned());
    } else if !path.exists() {
        return Err(read_error(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file or folder",
        )));
    }
    Ok(())
}
