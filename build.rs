//! Links the system OpenBLAS when the `openblas` feature is on (the default): ndarray's BLAS
//! path calls `cblas_sgemm`, which Debian's `libopenblas-dev` provides as `libopenblas.so`.
//! On Linux a missing library stops the build here with what to do, instead of a linker error.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LIBRARY_PATH");
    if std::env::var_os("CARGO_FEATURE_OPENBLAS").is_none() {
        return;
    }
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") && !openblas_found() {
        panic!(
            "the `openblas` feature (on by default) needs the system OpenBLAS, and no \
             libopenblas.so was found: install it (Debian/Ubuntu: `apt-get install \
             libopenblas-dev`; Fedora: `dnf install openblas-devel`), point LIBRARY_PATH at \
             it, or build without it: `cargo build --no-default-features` (slower embeddings)"
        );
    }
    println!("cargo:rustc-link-lib=dylib=openblas");
}

/// Whether `libopenblas.so` is in a usual library directory or on `LIBRARY_PATH`.
fn openblas_found() -> bool {
    let mut dirs: Vec<PathBuf> = std::env::var_os("LIBRARY_PATH")
        .map(|paths| std::env::split_paths(&paths).collect())
        .unwrap_or_default();
    for dir in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
        "/usr/local/lib64",
        "/lib/x86_64-linux-gnu",
        "/lib64",
    ] {
        dirs.push(PathBuf::from(dir));
    }
    dirs.iter().any(|dir| dir.join("libopenblas.so").exists())
}
