//! Bounded priority queue with a concurrency limit.
//!
//! At most `max_concurrent` requests hold a [`Permit`] at once; up to
//! `max_queue` more wait for one, higher [`Priority`] first and FIFO within
//! a priority. A request beyond that is refused at once with
//! [`Error::QueueFull`]. Capacity is reserved before a request is sent and
//! given back on every path: dropping a [`Permit`] hands its slot to the
//! next waiter, and dropping a waiting [`Acquire`] future (timeout, abort)
//! leaves the queue.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// Priority of a request in its workspace's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Served after `Normal` and `High`.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Served first.
    High,
}

impl Priority {
    /// Parses `"high"`, `"normal"` or `"low"`.
    pub fn parse(text: &str) -> Option<Priority> {
        match text {
            "high" => Some(Priority::High),
            "normal" => Some(Priority::Normal),
            "low" => Some(Priority::Low),
            _ => None,
        }
    }

    fn index(self) -> usize {
        match self {
            Priority::High => 0,
            Priority::Normal => 1,
            Priority::Low => 2,
        }
    }
}

struct Waiter {
    ticket: u64,
    grant: oneshot::Sender<()>,
}

struct State {
    in_flight: usize,
    queues: [VecDeque<Waiter>; 3],
    queued: usize,
    next_ticket: u64,
}

struct Inner {
    max_concurrent: usize,
    max_queue: usize,
    state: Mutex<State>,
}

impl Inner {
    /// Gives a freed slot to the first live waiter, or frees it.
    fn release(&self) {
        let mut state = self.state.lock();
        loop {
            let Some(waiter) = state.queues.iter_mut().find_map(|q| q.pop_front()) else {
                state.in_flight -= 1;
                return;
            };
            state.queued -= 1;
            // The slot passes to the waiter as is: in_flight is unchanged.
            if waiter.grant.send(()).is_ok() {
                return;
            }
        }
    }
}

/// A workspace's concurrency limit and wait queue. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

impl Queue {
    /// A queue admitting `max_concurrent` at once (at least 1) with room
    /// for `max_queue` waiters.
    pub fn new(max_concurrent: usize, max_queue: usize) -> Self {
        Queue {
            inner: Arc::new(Inner {
                max_concurrent: max_concurrent.max(1),
                max_queue,
                state: Mutex::new(State {
                    in_flight: 0,
                    queues: Default::default(),
                    queued: 0,
                    next_ticket: 0,
                }),
            }),
        }
    }

    /// Reserves a slot: at once when one is free and nobody waits, else a
    /// place in the queue.
    ///
    /// # Errors
    ///
    /// [`Error::QueueFull`] when `max_queue` requests already wait.
    pub fn acquire(&self, priority: Priority) -> Result<Acquire> {
        let mut state = self.inner.state.lock();
        if state.in_flight < self.inner.max_concurrent && state.queued == 0 {
            state.in_flight += 1;
            return Ok(Acquire {
                queue: self.inner.clone(),
                slot: Slot::Reserved,
            });
        }
        if state.queued >= self.inner.max_queue {
            return Err(Error::QueueFull {
                max_queue: self.inner.max_queue,
            });
        }
        let (grant, granted) = oneshot::channel();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queues[priority.index()].push_back(Waiter { ticket, grant });
        state.queued += 1;
        Ok(Acquire {
            queue: self.inner.clone(),
            slot: Slot::Waiting(Wait {
                priority,
                ticket,
                granted,
            }),
        })
    }

    /// Requests holding a slot.
    pub fn in_flight(&self) -> usize {
        self.inner.state.lock().in_flight
    }

    /// Requests waiting for a slot.
    pub fn queued(&self) -> usize {
        self.inner.state.lock().queued
    }
}

struct Wait {
    priority: Priority,
    ticket: u64,
    granted: oneshot::Receiver<()>,
}

enum Slot {
    /// The slot is reserved for this future.
    Reserved,
    /// In the queue.
    Waiting(Wait),
    /// Handed over to a [`Permit`].
    Taken,
}

/// A reservation: resolves to a [`Permit`] when the slot is granted.
///
/// # Cancel safety
///
/// Dropping it before it resolves leaves the queue; a slot granted in the
/// meantime passes on to the next waiter.
pub struct Acquire {
    queue: Arc<Inner>,
    slot: Slot,
}

impl Future for Acquire {
    type Output = Permit;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        if let Slot::Waiting(wait) = &mut self.slot {
            // The sender stays in the queue until it grants, and this future
            // is the only one that removes it: an error cannot happen.
            if Pin::new(&mut wait.granted).poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        self.slot = Slot::Taken;
        Poll::Ready(Permit {
            queue: self.queue.clone(),
        })
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.slot, Slot::Taken) {
            Slot::Taken => {}
            Slot::Reserved => self.queue.release(),
            Slot::Waiting(mut wait) => {
                let mut state = self.queue.state.lock();
                let queue = &mut state.queues[wait.priority.index()];
                if let Some(pos) = queue.iter().position(|w| w.ticket == wait.ticket) {
                    queue.remove(pos);
                    state.queued -= 1;
                    return;
                }
                drop(state);
                // Granted but never taken: pass the slot on.
                if wait.granted.try_recv().is_ok() {
                    self.queue.release();
                }
            }
        }
    }
}

/// A held slot; dropping it frees the slot for the next waiter.
pub struct Permit {
    queue: Arc<Inner>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.queue.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[test]
    fn admits_up_to_the_limit_then_queues_then_refuses() {
        let queue = Queue::new(2, 1);
        let a = queue.acquire(Priority::Normal).unwrap().now_or_never().unwrap();
        let _b = queue.acquire(Priority::Normal).unwrap().now_or_never().unwrap();
        let mut c = queue.acquire(Priority::Normal).unwrap();
        assert!((&mut c).now_or_never().is_none());
        assert!(matches!(queue.acquire(Priority::High), Err(Error::QueueFull { max_queue: 1 })));
        assert_eq!((queue.in_flight(), queue.queued()), (2, 1));
        drop(a);
        assert_eq!((queue.in_flight(), queue.queued()), (2, 0));
        let _c = c.now_or_never().expect("granted after a release");
    }

    #[test]
    fn higher_priority_first_and_fifo_within_one() {
        let queue = Queue::new(1, 10);
        let first = queue.acquire(Priority::Normal).unwrap().now_or_never().unwrap();
        let order = [
            (Priority::Low, "low-1"),
            (Priority::Normal, "normal-1"),
            (Priority::High, "high-1"),
            (Priority::Normal, "normal-2"),
            (Priority::High, "high-2"),
        ];
        let mut waiting: Vec<_> = order
            .iter()
            .map(|(p, name)| (*name, queue.acquire(*p).unwrap()))
            .collect();
        drop(first);
        let mut served = Vec::new();
        while !waiting.is_empty() {
            let index = waiting
                .iter_mut()
                .position(|(_, acquire)| acquire.now_or_never().is_some_and(|p| {
                    std::mem::forget(p); // released explicitly below
                    true
                }))
                .expect("exactly one waiter is granted");
            served.push(waiting.remove(index).0);
            queue.inner.release();
        }
        assert_eq!(served, ["high-1", "high-2", "normal-1", "normal-2", "low-1"]);
        assert_eq!((queue.in_flight(), queue.queued()), (0, 0));
    }

    #[test]
    fn dropping_a_waiter_leaves_the_queue_and_a_granted_slot_passes_on() {
        let queue = Queue::new(1, 10);
        let held = queue.acquire(Priority::Normal).unwrap().now_or_never().unwrap();
        let abandoned = queue.acquire(Priority::Normal).unwrap();
        let next = queue.acquire(Priority::Normal).unwrap();
        drop(abandoned);
        assert_eq!(queue.queued(), 1);
        drop(held);
        let permit = next.now_or_never().expect("the slot skipped the abandoned waiter");
        drop(permit);
        assert_eq!((queue.in_flight(), queue.queued()), (0, 0));
    }

    #[test]
    fn a_slot_granted_to_a_dropped_reservation_is_not_lost() {
        let queue = Queue::new(1, 10);
        let held = queue.acquire(Priority::Normal).unwrap().now_or_never().unwrap();
        let granted_later = queue.acquire(Priority::Normal).unwrap();
        drop(held); // grants the waiter, which is never polled
        assert_eq!(queue.in_flight(), 1);
        drop(granted_later);
        assert_eq!((queue.in_flight(), queue.queued()), (0, 0));
        let unpolled = queue.acquire(Priority::Normal).unwrap();
        drop(unpolled);
        assert_eq!(queue.in_flight(), 0);
    }
}
