//! Recommendations from shopper signals (issue 28): [`record`] counts what `record-signals`
//! receives, [`rank`] serves the rankings, [`suggest`] completes what a shopper types.

pub mod rank;
pub mod record;
pub mod suggest;
