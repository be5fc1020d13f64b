//! Many records, one function: each record is handled on its own, at most a few at once,
//! and only while the function's time lasts.
//!
//! Lambda stops a function at its timeout and, for an SQS batch, SQS then redelivers the
//! whole batch (docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html); a
//! scheduled run is simply lost. So a loop over records calls slow providers with bounded
//! concurrency and a deadline that ends before the timeout: what did not finish by then is
//! reported as not done (a partial batch failure, or left for the next run), and one
//! record's failure never stops the others.

use std::future::Future;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;

/// How one record of a batch ended.
#[derive(Debug)]
pub enum Handled<T, E> {
    /// It was handled.
    Done(T),
    /// Its handling failed.
    Failed(E),
    /// The deadline came first (not started, or stopped before it finished): not done.
    OutOfTime,
}

/// The time a function may still use for work: until `deadline` less `margin` (kept to
/// record outcomes and answer). Lambda gives the deadline as wall-clock time, the only
/// clock it can be compared with; it is turned into a monotonic instant at once.
pub fn budget(deadline: std::time::SystemTime, margin: Duration) -> Instant {
    let left = match deadline.duration_since(std::time::SystemTime::now()) {
        Ok(left) if !left.is_zero() => left,
        // No deadline given (an emulator that sends none, or 0): the template's timeout.
        _ => {
            tracing::warn!("invocation without a future deadline; assuming the 10 s timeout");
            DEFAULT_TIMEOUT
        }
    };
    Instant::now() + left.saturating_sub(margin)
}

/// The functions' timeout in the template (Globals), for an invocation that names no deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Handle every record with `handle`, at most `concurrency` at once, each stopped at
/// `deadline`; answers each record with how it ended, in the order given.
pub async fn each<I, T, E, F, Fut>(
    records: Vec<I>,
    concurrency: usize,
    deadline: Instant,
    handle: F,
) -> Vec<(I, Handled<T, E>)>
where
    I: Clone,
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let handle = &handle;
    let mut answers: Vec<(usize, I, Handled<T, E>)> = stream::iter(records.into_iter().enumerate())
        .map(|(at, record)| async move {
            if Instant::now() >= deadline {
                return (at, record, Handled::OutOfTime);
            }
            let outcome = match tokio::time::timeout_at(deadline, handle(record.clone())).await {
                Ok(Ok(done)) => Handled::Done(done),
                Ok(Err(e)) => Handled::Failed(e),
                Err(_) => Handled::OutOfTime,
            };
            (at, record, outcome)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    answers.sort_by_key(|(at, _, _)| *at);
    answers
        .into_iter()
        .map(|(_, record, outcome)| (record, outcome))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_failing_record_fails_alone_and_what_the_deadline_cuts_is_out_of_time() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let answers = each(vec![1u64, 2, 3, 30, 4], 2, deadline, |n| async move {
            tokio::time::sleep(Duration::from_secs(n)).await;
            if n == 2 {
                Err("poisoned")
            } else {
                Ok(n)
            }
        })
        .await;
        let outcome: Vec<String> = answers
            .iter()
            .map(|(n, h)| match h {
                Handled::Done(v) => format!("{n}:done{v}"),
                Handled::Failed(e) => format!("{n}:{e}"),
                Handled::OutOfTime => format!("{n}:late"),
            })
            .collect();
        assert_eq!(
            outcome,
            ["1:done1", "2:poisoned", "3:done3", "30:late", "4:done4"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_bound_run_at_once() {
        let running = std::sync::atomic::AtomicUsize::new(0);
        let peak = std::sync::atomic::AtomicUsize::new(0);
        let deadline = Instant::now() + Duration::from_secs(60);
        each((0..20).collect(), 3, deadline, |_| async {
            use std::sync::atomic::Ordering::SeqCst;
            let now = running.fetch_add(1, SeqCst) + 1;
            peak.fetch_max(now, SeqCst);
            tokio::time::sleep(Duration::from_secs(1)).await;
            running.fetch_sub(1, SeqCst);
            Ok::<_, ()>(())
        })
        .await;
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
