//! The one work queue of the pipeline: items spread over a bounded number of threads, results
//! in item order (so a rerun writes the same files whatever order the workers finished in).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The threads a stage uses by default: one per core.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` of every item on up to `workers` threads; results in item order. Once `f` returns
/// `Err` for one item, the workers take no further item: the items not started get `None`.
pub fn map<T: Sync, R: Send, E: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Vec<Option<Result<R, E>>> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<R, E>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_item_order_on_many_threads() {
        let items: Vec<u64> = (0..200).collect();
        let out = map(&items, 4, |&i| Ok::<_, ()>(i * i));
        let got: Vec<u64> = out.into_iter().map(|r| r.unwrap().unwrap()).collect();
        assert_eq!(got, items.iter().map(|i| i * i).collect::<Vec<_>>());
    }

    #[test]
    fn an_error_stops_the_queue() {
        let items: Vec<u32> = (0..1000).collect();
        let out = map(&items, 1, |&i| if i == 3 { Err(i) } else { Ok(i) });
        assert_eq!(out[3], Some(Err(3)));
        assert!(
            out[4..].iter().all(Option::is_none),
            "one worker stops at the error"
        );
    }
}
