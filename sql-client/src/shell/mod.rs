//! The `dosql` shell (see `src/bin/dosql`).
