//! The console (in progress).
