//! The sums between processes of a data-parallel fit, over TCP: rank 0 is the hub, each
//! other process sends it its values and gets back the total, added in rank order so
//! every process holds the same bits. A process that dies closes its connection, so the
//! others stop at once with an error naming it; one that hangs is given up after the
//! fit's timeout.
//!
//! burn-collective 0.21's own multi-node all-reduce is not used: its nodes wait on one
//! another through a list of synced peers that is never cleared (`SyncService::sync`
//! clears a copy), so a second all-reduce between two nodes never returns.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::distributed::Nodes;
use crate::error::TrainError;

/// What opens every connection, so a stray client is refused.
const HELLO: &[u8; 4] = b"kiln";

/// One process's end of one lane (a lane per local worker: worker k of every process
/// sums with worker k of the others).
pub(super) enum Link {
    /// Rank 0: the connections of ranks 1, 2, ... in order.
    Hub(Vec<TcpStream>),
    /// Any other rank: its connection to rank 0.
    Spoke(TcpStream),
}

fn broken(rank: u32, e: &std::io::Error) -> TrainError {
    let why = match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => "did not answer in time",
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
            "closed its connection (its process stopped)"
        }
        _ => "cannot be reached",
    };
    TrainError::Distributed(format!("rank {rank} {why}: {e}"))
}

fn unjoined(message: String) -> TrainError {
    TrainError::Distributed(message)
}

/// `timeout` from now, `None` when that is beyond any clock (wait for ever).
fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

fn past(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

impl Link {
    /// Lane `lane` of `nodes`, whose processes have `local` workers each: rank 0 listens
    /// on the coordinator's port plus `lane` and waits for every other rank; the others
    /// connect to it, retrying until `timeout`.
    pub(super) fn open(
        nodes: &Nodes,
        lane: u16,
        local: u32,
        timeout: Duration,
    ) -> Result<Self, TrainError> {
        let (host, port) = &nodes.coordinator;
        let port = port.checked_add(lane).ok_or_else(|| {
            unjoined(format!(
                "the coordinator's port {port} leaves no room for lane {lane}"
            ))
        })?;
        let stream = match nodes.rank {
            0 => return Self::hub(host, port, [nodes.count, u32::from(lane), local], timeout),
            _ => connect(host, port, timeout)?,
        };
        configure(&stream, timeout).map_err(|e| broken(0, &e))?;
        let mut hello = HELLO.to_vec();
        for word in [nodes.rank, nodes.count, u32::from(lane), local] {
            hello.extend(word.to_le_bytes());
        }
        (&stream).write_all(&hello).map_err(|e| broken(0, &e))?;
        Ok(Link::Spoke(stream))
    }

    /// Rank 0's end: `run` is the count of processes, the lane and the workers per
    /// process, which every connection must name.
    fn hub(host: &str, port: u16, run: [u32; 3], timeout: Duration) -> Result<Self, TrainError> {
        let [count, lane, _] = run;
        let listener = TcpListener::bind((host, port)).map_err(|e| {
            unjoined(format!(
                "rank 0 cannot listen on {host}:{port} (KILN_COORDINATOR must be this machine's address and a free port): {e}"
            ))
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| unjoined(e.to_string()))?;
        let deadline = deadline(timeout);
        let mut ranks: Vec<Option<TcpStream>> = (1..count).map(|_| None).collect();
        while ranks.iter().any(Option::is_none) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let Some(rank) = greeting(&stream, run)? else {
                        continue;
                    };
                    let slot = &mut ranks[rank as usize - 1];
                    if slot.is_none() {
                        configure(&stream, timeout).map_err(|e| broken(rank, &e))?;
                        *slot = Some(stream);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock && !past(deadline) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let missing: Vec<String> = (1..count)
                        .filter(|r| ranks[*r as usize - 1].is_none())
                        .map(|r| r.to_string())
                        .collect();
                    return Err(unjoined(format!(
                        "rank {} did not join within {} s; is every process started with KILN_COORDINATOR={host}:{}?",
                        missing.join(", rank "),
                        timeout.as_secs(),
                        u32::from(port) - lane
                    )));
                }
                Err(e) => return Err(unjoined(format!("rank 0 cannot accept connections: {e}"))),
            }
        }
        Ok(Link::Hub(ranks.into_iter().flatten().collect()))
    }

    /// The sum of `values` over every process, the same bits everywhere.
    pub(super) fn sum(&mut self, values: &mut [f32]) -> Result<(), TrainError> {
        match self {
            Link::Spoke(stream) => {
                send(stream, values).map_err(|e| broken(0, &e))?;
                receive(stream, values, |_, theirs| theirs).map_err(|e| broken(0, &e))
            }
            Link::Hub(streams) => {
                for (rank, stream) in (1..).zip(streams.iter_mut()) {
                    receive(stream, values, |mine, theirs| mine + theirs)
                        .map_err(|e| broken(rank, &e))?;
                }
                for (rank, stream) in (1..).zip(streams.iter_mut()) {
                    send(stream, values).map_err(|e| broken(rank, &e))?;
                }
                Ok(())
            }
        }
    }
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, TrainError> {
    let deadline = deadline(timeout);
    loop {
        let last = match (host, port).to_socket_addrs() {
            Ok(mut addresses) => match addresses.next() {
                Some(a) => match TcpStream::connect_timeout(&a, Duration::from_secs(1)) {
                    Ok(stream) => return Ok(stream),
                    Err(e) => e.to_string(),
                },
                None => format!("{host} has no address"),
            },
            Err(e) => e.to_string(),
        };
        if past(deadline) {
            return Err(unjoined(format!(
                "rank 0 could not be reached at {host}:{port} within {} s: {last}",
                timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn configure(stream: &TcpStream, timeout: Duration) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))
}

/// The rank a new connection says it is, when it is one of this `run`'s (see
/// [`Link::hub`]); a stray connection gets a few seconds to say so. A process of this run
/// with another number of workers is an error.
fn greeting(stream: &TcpStream, run: [u32; 3]) -> Result<Option<u32>, TrainError> {
    let [count, lane, local] = run;
    let mut hello = [0u8; 20];
    let read = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(Duration::from_secs(5))))
        .and_then(|()| (&*stream).read_exact(&mut hello));
    if read.is_err() || hello[..4] != HELLO[..] {
        return Ok(None);
    }
    let word = |i: usize| u32::from_le_bytes([hello[i], hello[i + 1], hello[i + 2], hello[i + 3]]);
    let (rank, world, theirs, workers) = (word(4), word(8), word(12), word(16));
    if world != count || theirs != lane || !(1..count).contains(&rank) {
        return Ok(None);
    }
    if workers != local {
        return Err(unjoined(format!(
            "rank {rank} has {workers} device(s) where rank 0 has {local}: every process needs the same number"
        )));
    }
    Ok(Some(rank))
}

fn send(stream: &mut TcpStream, values: &[f32]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(8 + 4 * values.len());
    bytes.extend((values.len() as u64).to_le_bytes());
    for v in values {
        bytes.extend(v.to_le_bytes());
    }
    stream.write_all(&bytes)
}

/// Reads a frame of `values.len()` values, folding each into `values` with `fold`.
fn receive(
    stream: &mut TcpStream,
    values: &mut [f32],
    fold: impl Fn(f32, f32) -> f32,
) -> std::io::Result<()> {
    let mut len = [0u8; 8];
    stream.read_exact(&mut len)?;
    if u64::from_le_bytes(len) != values.len() as u64 {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!(
                "sent {} values where {} were due (do all processes train the same model?)",
                u64::from_le_bytes(len),
                values.len()
            ),
        ));
    }
    let mut bytes = vec![0u8; 4 * values.len()];
    stream.read_exact(&mut bytes)?;
    for (v, b) in values.iter_mut().zip(bytes.chunks_exact(4)) {
        *v = fold(*v, f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(count: u32, rank: u32, port: u16) -> Nodes {
        Nodes::new(count, rank, &format!("127.0.0.1:{port}")).unwrap()
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn three_ranks_sum_in_rank_order_and_a_dead_rank_is_named() {
        let port = free_port();
        let timeout = Duration::from_secs(20);
        let spokes: Vec<_> = (1..3)
            .map(|rank| {
                std::thread::spawn(move || {
                    let mut link = Link::open(&nodes(3, rank, port), 0, 1, timeout).unwrap();
                    let mut v = [rank as f32, 0.5];
                    link.sum(&mut v).unwrap();
                    (v, rank)
                })
            })
            .collect();
        let mut hub = Link::open(&nodes(3, 0, port), 0, 1, timeout).unwrap();
        let mut v = [10.0, 0.5];
        hub.sum(&mut v).unwrap();
        assert_eq!(v, [13.0, 1.5]);
        // The others leave before the next sum: the hub names the first it waits for.
        for s in spokes {
            let (got, rank) = s.join().unwrap();
            assert_eq!(got, [13.0, 1.5], "rank {rank}");
        }
        let e = hub.sum(&mut [1.0]).unwrap_err().to_string();
        assert!(
            e.contains("rank 1") && e.contains("closed its connection"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_rank_and_a_missing_hub_time_out_with_the_reason() {
        let port = free_port();
        let short = Duration::from_millis(300);
        let e = Link::open(&nodes(2, 0, port), 0, 1, short)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("rank 1 did not join"), "{e}");
        let e = Link::open(&nodes(2, 1, port), 0, 1, short)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("rank 0 could not be reached"), "{e}");
    }

    #[test]
    fn a_process_with_another_number_of_devices_is_refused() {
        let port = free_port();
        let timeout = Duration::from_secs(20);
        let other = std::thread::spawn(move || Link::open(&nodes(2, 1, port), 0, 1, timeout));
        let e = Link::open(&nodes(2, 0, port), 0, 2, timeout)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("rank 1 has 1 device(s) where rank 0 has 2"),
            "{e}"
        );
        drop(other.join());
    }
}
