//! ritz developer tasks (being written).
fn main() {}
