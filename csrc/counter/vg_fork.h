/* vg_fork.h - fork() safety for the POSIX backends (issue 13). Included by exactly one backend per build.
 *
 * After fork() the child holds copies of a counter's state made for the parent: the parent's threads (the
 * vmgenid listener) do not exist in it, and its fds share file descriptions with the parent's, so a write
 * from the child (an eventfd signal, a stop request) reaches the parent and a read (a drain) steals the
 * parent's events. So every counter records the fork generation it was built in. A pthread_atfork child
 * handler bumps the process's generation; the first call on a counter in a newer generation "adopts" it:
 * the backend closes the inherited fds WITHOUT signalling them (closing a shared description in the child
 * leaves the parent's untouched) and builds its own (vg_backend_adopt), under one process-wide lock that the
 * child handler re-initialises (another parent thread may have held it at the fork).
 * Nothing is rebuilt eagerly in the child handler: a child that only exec()s (subprocess) pays nothing.
 */
#ifndef VG_FORK_H
#define VG_FORK_H

#include "vg_counter.h"

#include <pthread.h>

unsigned vg_fork_gen_;   /* vg_counter.h: vg_fork_generation(); changes only in a child, at its fork */

static pthread_mutex_t vg_adopt_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t vg_atfork_once = PTHREAD_ONCE_INIT;

static void vg_backend_fork_child(void);   /* the backend's own async-signal-safe part (may be empty) */

static void vg_on_fork_child(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    vg_adopt_lock = fresh;
    __atomic_add_fetch(&vg_fork_gen_, 1u, __ATOMIC_RELEASE);
    vg_backend_fork_child();
}

static void vg_backend_fork_prepare(void);
static void vg_backend_fork_parent(void);

static void vg_register_atfork(void) {
    pthread_atfork(vg_backend_fork_prepare, vg_backend_fork_parent, vg_on_fork_child);
}

/* Call once per vg_open (cheap after the first). */
static void vg_fork_init(void) { pthread_once(&vg_atfork_once, vg_register_atfork); }

/* The backend's rebuild: called with vg_adopt_lock held, only when *gen differs from this process's. */
static int vg_backend_adopt(vg_counter *c, vg_error *err);

/* Make c this process's own before using it (every C entry point calls this). */
static int vg_own(vg_counter *c, unsigned *gen, vg_error *err) {
    if (__atomic_load_n(gen, __ATOMIC_ACQUIRE) == vg_fork_generation()) return VG_OK;
    pthread_mutex_lock(&vg_adopt_lock);
    int rc = VG_OK;
    if (__atomic_load_n(gen, __ATOMIC_ACQUIRE) != vg_fork_generation()) rc = vg_backend_adopt(c, err);
    pthread_mutex_unlock(&vg_adopt_lock);
    return rc;
}

#endif /* VG_FORK_H */
