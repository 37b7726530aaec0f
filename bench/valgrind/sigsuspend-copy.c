/* Preloaded into the server under valgrind 3.19 (Debian 12). Swift's async main leaves the main
 * thread in libdispatch's signal loop, which calls sigsuspend() with a mask in read-only memory;
 * valgrind edits that mask in place before the system call and dies of the fault. Handing it a
 * copy on the stack changes nothing else. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>

int sigsuspend(const sigset_t *mask) {
    static int (*next)(const sigset_t *);
    if (!next) next = (int (*)(const sigset_t *))dlsym(RTLD_NEXT, "sigsuspend");
    sigset_t copy = *mask;
    return next(&copy);
}
