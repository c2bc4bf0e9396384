//! Child processes that cannot outlive the process that started them.
//!
//! Every child is started with `PR_SET_PDEATHSIG = SIGKILL`, so the kernel kills it
//! when its parent goes, even when the parent is killed or a test panics and statics
//! are never dropped. That signal follows the *thread* that forked, so all children
//! are forked by one thread that lives as long as the process.

use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Request = (Command, mpsc::Sender<std::io::Result<Child>>);

fn owner() -> &'static Mutex<mpsc::Sender<Request>> {
    static OWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    OWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        let spawned = std::thread::Builder::new()
            .name("oc-child-owner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(spawn_with_death_signal(&mut command));
                }
                // The sender lives in a static, so the loop never ends; park just in case.
                loop {
                    std::thread::park();
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the child-process owner thread");
        }
        Mutex::new(tx)
    })
}

#[cfg(target_os = "linux")]
fn spawn_with_death_signal(command: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // async-signal-safe functions (prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    command.spawn()
}

#[cfg(not(target_os = "linux"))]
fn spawn_with_death_signal(command: &mut Command) -> std::io::Result<Child> {
    command.spawn()
}

/// Starts `command` as a child that dies with this process.
pub fn spawn(command: Command) -> std::io::Result<Child> {
    let (tx, rx) = mpsc::channel();
    owner()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((command, tx))
        .map_err(|_| std::io::Error::other("the child-process owner thread is gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the child-process owner thread did not answer"))?
}

/// Stops a child: SIGTERM, a grace period, then SIGKILL; always reaps it.
pub fn stop(child: &mut Child, grace: std::time::Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    #[cfg(unix)]
    {
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: plain kill(2) on our own child's pid, which we have not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = std::time::Instant::now() + grace;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
