//! The pause process of Krust's pod sandboxes: the first process of every pod, holding
//! its namespaces while the pod lives. Like upstream's `pause`, it reaps the zombies of a
//! shared PID namespace and exits on SIGTERM or SIGINT. It waits for signals with every
//! signal blocked (a PID 1 ignores unhandled signals, but blocked ones stay pending), so it
//! needs no handler. Built static by `build.rs`, so its image holds nothing else.

#![no_main]

use std::os::raw::c_int;

/// glibc's `sigset_t` (1024 bits).
#[repr(C)]
struct SigSet([u64; 16]);

unsafe extern "C" {
    fn sigfillset(set: *mut SigSet) -> c_int;
    fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    fn sigwait(set: *const SigSet, sig: *mut c_int) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn _exit(code: c_int) -> !;
}

const SIG_BLOCK: c_int = 0;
const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;
const SIGCHLD: c_int = 17;
const WNOHANG: c_int = 1;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> c_int {
    // SAFETY: plain libc calls on a signal set owned by this frame.
    unsafe {
        let mut set = SigSet([0; 16]);
        sigfillset(&mut set);
        sigprocmask(SIG_BLOCK, &set, std::ptr::null_mut());
        loop {
            let mut signal: c_int = 0;
            if sigwait(&set, &mut signal) != 0 {
                continue;
            }
            match signal {
                SIGINT | SIGTERM => _exit(0),
                SIGCHLD => while waitpid(-1, std::ptr::null_mut(), WNOHANG) > 0 {},
                _ => {}
            }
        }
    }
}
