//! Links the system OpenBLAS when the `openblas` feature is on (the default): ndarray's BLAS
//! path calls `cblas_sgemm`, which Debian's `libopenblas-dev` provides as `libopenblas.so`.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_OPENBLAS").is_some() {
        println!("cargo:rustc-link-lib=dylib=openblas");
    }
}
