mod helpers;
#[test]
fn placeholder() {}
