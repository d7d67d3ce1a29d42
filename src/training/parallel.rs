//! Jobs on rayon's threads, their progress reported on the caller's thread (where a
//! progress bar lives).
//!
//! In: jobs, the function run on each (given a [`Tick`] to count its progress) and a
//! callback. Out: the results in the jobs' order; the callback is called on the calling
//! thread with the running total of ticks of every job after each tick.

use std::sync::mpsc;

use rayon::prelude::*;

/// Counts one unit of a job's progress.
pub struct Tick(mpsc::Sender<()>);

impl Tick {
    pub fn tick(&self) {
        // The receiver outlives every job: a send cannot fail.
        let _ = self.0.send(());
    }
}

/// `run` over every job on rayon's threads, the results in the jobs' order; `ticked`
/// is called on this thread with the number of ticks so far after each one.
pub fn in_parallel<J: Send, T: Send>(
    jobs: Vec<J>,
    run: impl Fn(J, &Tick) -> T + Sync,
    mut ticked: impl FnMut(u64),
) -> Vec<T> {
    let (sender, receiver) = mpsc::channel();
    let run = &run;
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            jobs.into_par_iter()
                .map(|job| run(job, &Tick(sender.clone())))
                .collect()
        });
        for (count, ()) in receiver.iter().enumerate() {
            ticked(count as u64 + 1);
        }
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_jobs_order_and_every_tick_is_counted_here() {
        let caller = std::thread::current().id();
        let mut seen = Vec::new();
        let results = in_parallel(
            (0..20u64).collect(),
            |job, tick| {
                (0..job).for_each(|_| tick.tick());
                job * 2
            },
            |ticks| {
                assert_eq!(std::thread::current().id(), caller);
                seen.push(ticks);
            },
        );
        assert_eq!(results, (0..20).map(|j| j * 2).collect::<Vec<_>>());
        assert_eq!(
            seen,
            (1..=190).collect::<Vec<_>>(),
            "0 + 1 + ... + 19 ticks"
        );
    }
}
