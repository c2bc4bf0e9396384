//! An `oc-operator` process, for the tests that run replicas as processes (leader
//! election, the chart's own identity): its admin port, readiness, SIGKILL, SIGTERM.

use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A free loopback address for a replica's admin port.
pub fn free_probe_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// A running operator process.
pub struct Replica {
    pub name: &'static str,
    child: Child,
    admin: String,
}

impl Replica {
    /// Starts `command` (an `oc-operator run` whose admin port listens on `probe`) as
    /// replica `name`.
    pub fn spawn(name: &'static str, command: Command, probe: SocketAddr) -> Self {
        let child = testenv::processes::spawn(command).expect("operator process");
        Self {
            name,
            child,
            admin: format!("http://{probe}"),
        }
    }

    /// Waits until `/readyz` answers 200, for at most `secs` seconds.
    pub async fn until_ready(&self, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let answer = reqwest::get(format!("{}/readyz", self.admin)).await;
            if answer.as_ref().is_ok_and(|a| a.status().as_u16() == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} ({}/readyz) never answered 200: {answer:?}",
                self.name,
                self.admin
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL, as a crash: nothing of the process runs on.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// SIGTERM, and its exit status once the process has ended (within 30 s).
    pub async fn stop_gracefully(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on our own child process, which has not been reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let stopped = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                stopped.elapsed() < Duration::from_secs(30),
                "{}: no graceful stop after SIGTERM",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
