//! `sqlx::migrate!` reads `migrations/` when the crate compiles, but cargo does not know
//! that: without this, a new migration file is left out of a warm build.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
