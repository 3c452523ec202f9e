//! Intentionally empty: see this crate's `Cargo.toml`. Depending on it gives every build
//! of the workspace the same dependency features, so each dependency is compiled once.
