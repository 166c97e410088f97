//! Bounded priority queue with a concurrency limit, fair between clients.
//!
//! At most `max_concurrent` requests hold a [`Permit`] at once; up to
//! `max_queue` more wait for one, higher [`Priority`] first. Within a
//! priority, waiters are grouped by *flow* (the MCP session a call belongs
//! to: the bridge's default session, or each `bridge.session()`, which is
//! each downstream MCP session at the Express endpoint), and the flows are
//! served in turns (round-robin, one request per turn), FIFO within a
//! flow: a client with 200 queued calls delays another client's one call by
//! at most one slot per other waiting flow. A request beyond `max_queue` is
//! refused at once with [`Error::QueueFull`]. Capacity is reserved before a
//! request is sent and given back on every path: dropping a [`Permit`]
//! hands its slot to the next waiter, and dropping a waiting [`Acquire`]
//! future (timeout, abort) leaves the queue.

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

/// Which client a request comes from, for fairness between clients.
pub type Flow = u64;

struct Waiter {
    ticket: u64,
    grant: oneshot::Sender<()>,
}

/// The waiters of one priority: a turn order of flows, each FIFO. Only
/// flows with waiters are in it.
#[derive(Default)]
struct Level {
    flows: VecDeque<(Flow, VecDeque<Waiter>)>,
}

impl Level {
    fn push(&mut self, flow: Flow, waiter: Waiter) {
        match self.flows.iter_mut().find(|(id, _)| *id == flow) {
            Some((_, waiters)) => waiters.push_back(waiter),
            None => self.flows.push_back((flow, VecDeque::from([waiter]))),
        }
    }

    /// The first waiter of the flow whose turn it is; that flow then goes
    /// to the back of the turn order.
    fn pop(&mut self) -> Option<Waiter> {
        let (flow, mut waiters) = self.flows.pop_front()?;
        let waiter = waiters.pop_front();
        if !waiters.is_empty() {
            self.flows.push_back((flow, waiters));
        }
        waiter
    }

    /// Removes the waiter with `ticket`; whether it was there.
    fn remove(&mut self, flow: Flow, ticket: u64) -> bool {
        let Some(index) = self.flows.iter().position(|(id, _)| *id == flow) else {
            return false;
        };
        let waiters = &mut self.flows[index].1;
        let Some(pos) = waiters.iter().position(|w| w.ticket == ticket) else {
            return false;
        };
        waiters.remove(pos);
        if waiters.is_empty() {
            self.flows.remove(index);
        }
        true
    }
}

struct State {
    in_flight: usize,
    levels: [Level; 3],
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
            let Some(waiter) = state.levels.iter_mut().find_map(Level::pop) else {
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
                    levels: Default::default(),
                    queued: 0,
                    next_ticket: 0,
                }),
            }),
        }
    }

    /// Reserves a slot for a request of `flow`: at once when one is free
    /// and nobody waits, else a place in the queue.
    ///
    /// # Errors
    ///
    /// [`Error::QueueFull`] when `max_queue` requests already wait.
    pub fn acquire(&self, priority: Priority, flow: Flow) -> Result<Acquire> {
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
        state.levels[priority.index()].push(flow, Waiter { ticket, grant });
        state.queued += 1;
        Ok(Acquire {
            queue: self.inner.clone(),
            slot: Slot::Waiting(Wait {
                priority,
                flow,
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
    flow: Flow,
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
                if state.levels[wait.priority.index()].remove(wait.flow, wait.ticket) {
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
        let a = queue.acquire(Priority::Normal, 0).unwrap().now_or_never().unwrap();
        let _b = queue.acquire(Priority::Normal, 0).unwrap().now_or_never().unwrap();
        let mut c = queue.acquire(Priority::Normal, 0).unwrap();
        assert!((&mut c).now_or_never().is_none());
        assert!(matches!(queue.acquire(Priority::High, 0), Err(Error::QueueFull { max_queue: 1 })));
        assert_eq!((queue.in_flight(), queue.queued()), (2, 1));
        drop(a);
        assert_eq!((queue.in_flight(), queue.queued()), (2, 0));
        let _c = c.now_or_never().expect("granted after a release");
    }

    #[test]
    fn higher_priority_first_and_fifo_within_one() {
        let queue = Queue::new(1, 10);
        let first = queue.acquire(Priority::Normal, 0).unwrap().now_or_never().unwrap();
        let order = [
            (Priority::Low, "low-1"),
            (Priority::Normal, "normal-1"),
            (Priority::High, "high-1"),
            (Priority::Normal, "normal-2"),
            (Priority::High, "high-2"),
        ];
        let waiting: Vec<_> = order
            .iter()
            .map(|(p, name)| (name.to_string(), queue.acquire(*p, 0).unwrap()))
            .collect();
        drop(first);
        assert_eq!(serve_all(&queue, waiting), ["high-1", "high-2", "normal-1", "normal-2", "low-1"]);
        assert_eq!((queue.in_flight(), queue.queued()), (0, 0));
    }

    /// Grants the one slot in turn until every waiter has run; the names
    /// in the order they were granted.
    fn serve_all(queue: &Queue, mut waiting: Vec<(String, Acquire)>) -> Vec<String> {
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
        served
    }

    #[test]
    fn flows_take_turns_within_a_priority_and_keep_their_own_order() {
        let queue = Queue::new(1, 300);
        let first = queue.acquire(Priority::Normal, 1).unwrap().now_or_never().unwrap();
        // Flow 1 floods the queue; flows 2 and 3 then queue one call each.
        let mut waiting: Vec<_> = (0..200)
            .map(|i| (format!("a{i}"), queue.acquire(Priority::Normal, 1).unwrap()))
            .collect();
        waiting.push(("b0".into(), queue.acquire(Priority::Normal, 2).unwrap()));
        waiting.push(("c0".into(), queue.acquire(Priority::Normal, 3).unwrap()));
        waiting.push(("b1".into(), queue.acquire(Priority::Normal, 2).unwrap()));
        drop(first); // its slot goes to the first waiter in turn
        let served = serve_all(&queue, waiting);
        assert_eq!(&served[..6], ["a0", "b0", "c0", "a1", "b1", "a2"]);
        let flood: Vec<_> = served.iter().filter(|n| n.starts_with('a')).cloned().collect();
        assert_eq!(flood, (0..200).map(|i| format!("a{i}")).collect::<Vec<_>>());
        assert_eq!(queue.queued(), 0);
    }

    #[test]
    fn a_higher_priority_still_goes_first_across_flows() {
        let queue = Queue::new(1, 10);
        let first = queue.acquire(Priority::Normal, 1).unwrap().now_or_never().unwrap();
        let waiting = vec![
            ("a-normal".to_owned(), queue.acquire(Priority::Normal, 1).unwrap()),
            ("b-low".to_owned(), queue.acquire(Priority::Low, 2).unwrap()),
            ("c-high".to_owned(), queue.acquire(Priority::High, 3).unwrap()),
        ];
        drop(first);
        assert_eq!(serve_all(&queue, waiting), ["c-high", "a-normal", "b-low"]);
    }

    #[test]
    fn dropping_a_waiter_leaves_the_queue_and_a_granted_slot_passes_on() {
        let queue = Queue::new(1, 10);
        let held = queue.acquire(Priority::Normal, 0).unwrap().now_or_never().unwrap();
        let abandoned = queue.acquire(Priority::Normal, 0).unwrap();
        let next = queue.acquire(Priority::Normal, 0).unwrap();
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
        let held = queue.acquire(Priority::Normal, 0).unwrap().now_or_never().unwrap();
        let granted_later = queue.acquire(Priority::Normal, 0).unwrap();
        drop(held); // grants the waiter, which is never polled
        assert_eq!(queue.in_flight(), 1);
        drop(granted_later);
        assert_eq!((queue.in_flight(), queue.queued()), (0, 0));
        let unpolled = queue.acquire(Priority::Normal, 0).unwrap();
        drop(unpolled);
        assert_eq!(queue.in_flight(), 0);
    }
}
