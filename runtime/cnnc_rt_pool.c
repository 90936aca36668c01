/*===- runtime/cnnc_rt_pool.c - the thread pool of Halide's parallel loops -===*
 *
 * Halide's own pool wakes its sleeping workers with a condition variable
 * at every parallel loop. A model's kernels run for tens of microseconds
 * each (ResNet-20's at batch 1: 25-75 us), about what waking a thread
 * costs on a virtual machine, so a second thread gained nothing there.
 * This pool is the runtime's instead (halide_do_par_for is pointed at
 * cnnc_rt_pool_do_par_for): while a run is in progress its workers wait
 * for the next loop by spinning, and a loop starts in about the time of a
 * cache miss. Between runs they spin a little longer (kGraceSeconds) and
 * then sleep, so an idle model costs no CPU.
 *
 * Each thread takes a contiguous block of a loop's tasks first (the
 * submitter the first), then helps with the others' blocks: consecutive
 * loops over the same rows or channels then find most of their data in
 * their own core's cache. Taking the next free task instead interleaved
 * the threads' tasks; ResNet-20's tasks ran 40% slower on 2 threads than
 * on 1 that way (data moving between the cores), its whole run 20% slower
 * than with blocks.
 *
 * One loop at a time: a second submitter (another ctx running on another
 * thread, or a loop nested in a task) runs its loop on its own thread.
 * A loop runs on at most the thread count of the ctx whose kernel submits
 * it (the kernels' user context), or the default (HL_NUM_THREADS, else
 * the cores). The pool is per model library; two models linked into one
 * program from static archives share Halide's runtime and so the pool of
 * the one that ran first (each ctx's thread count still applies).
 *
 * The protocol (all atomics sequentially consistent):
 *  - seq is odd while a loop is open to workers, even otherwise;
 *  - a worker that sees a new odd seq announces itself in `users`, then
 *    re-reads seq; the same value means the loop is still open and its
 *    fields stay as they are until the worker leaves (a submitter writes
 *    them only after seq turned even and users reached 0);
 *  - tasks are claimed one at a time from the blocks' `next`; `done`
 *    counts the finished ones, and the submitter returns once all are
 *    done (nothing touches the closure after its task finished).
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include "cnnc_rt_internal.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Halide's runtime defines it in model.so; absent in the runtime's tests
 * that link no Halide runtime (their kernels have no parallel loops). */
extern halide_do_par_for_t
halide_set_custom_do_par_for(halide_do_par_for_t do_par_for)
    __attribute__((weak));

#define CNNC_RT_POOL_MAX_WORKERS 255
/* How long workers keep spinning after the last run ended. */
static const double kGraceSeconds = 200e-6;

static struct {
  pthread_mutex_t mu; /* guards creating and joining the threads */
  pthread_cond_t wake;
  pthread_t threads[CNNC_RT_POOL_MAX_WORKERS];
  atomic_int workers;

  atomic_uint seq;
  atomic_int busy;     /* a submitter owns the loop slot */
  atomic_int hot;      /* runs in progress with more than one thread */
  atomic_int sleepers; /* workers waiting on `wake` */
  atomic_int stop;
  atomic_int users;
  atomic_int done, joined, err;
  /* The tasks in one block per participant ([p * extent / parts, ...)):
   * each takes its own block's tasks first, in order, then the others'. */
  struct {
    _Alignas(64) atomic_int next;
    int end;
  } block[CNNC_RT_POOL_MAX_WORKERS + 1];
  int parts;

  /* The open loop's fields. */
  halide_task_t f;
  void *user_context;
  uint8_t *closure;
  int min, extent, slots;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* Whether this thread is one of the pool's workers. */
static _Thread_local int tls_in_worker;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cnnc_rt_pool_default_threads(void) {
  static atomic_int cached;
  int n = atomic_load(&cached);
  if (n > 0)
    return n;
  const char *env = getenv("HL_NUM_THREADS");
  n = env ? atoi(env) : 0;
  if (n <= 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    n = cores > 0 ? (int)cores : 1;
  }
  if (n > CNNC_RT_POOL_MAX_WORKERS + 1)
    n = CNNC_RT_POOL_MAX_WORKERS + 1;
  atomic_store(&cached, n);
  return n;
}

/* Claims and runs the open loop's tasks until none is left. */
static void run_tasks(int part) {
  for (int k = 0; k < pool.parts; ++k) {
    int b = (part + k) % pool.parts, i;
    while ((i = atomic_fetch_add(&pool.block[b].next, 1)) < pool.block[b].end) {
      int r = pool.f(pool.user_context, pool.min + i, pool.closure);
      if (r != 0) {
        int zero = 0;
        atomic_compare_exchange_strong(&pool.err, &zero, r);
      }
      atomic_fetch_add(&pool.done, 1);
    }
  }
}

static void *worker_main(void *arg) {
  (void)arg;
  tls_in_worker = 1;
  /* A loop open already (the one this worker was started for) is new. */
  unsigned seen = atomic_load(&pool.seq) & ~1u;
  double idle_since = now();
  for (unsigned spins = 0;; ++spins) {
    unsigned s = atomic_load(&pool.seq);
    if ((s & 1u) && s != seen) {
      seen = s;
      atomic_fetch_add(&pool.users, 1);
      int part;
      if (atomic_load(&pool.seq) == s &&
          (part = atomic_fetch_add(&pool.joined, 1)) < pool.slots) {
        run_tasks(part + 1);
      }
      atomic_fetch_sub(&pool.users, 1);
      idle_since = now();
      spins = 0;
      continue;
    }
    if (atomic_load(&pool.stop))
      break;
    if (spins % 128 != 127) {
      cpu_relax();
      continue;
    }
    /* Give the core away now and then: with more threads than cores the
     * thread a loop waits for may be waiting for this core. */
    sched_yield();
    if (atomic_load(&pool.hot) > 0) {
      idle_since = now();
      continue;
    }
    if (now() - idle_since < kGraceSeconds)
      continue;
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add(&pool.sleepers, 1);
    while (!atomic_load(&pool.stop) && atomic_load(&pool.hot) == 0 &&
           atomic_load(&pool.seq) == s)
      pthread_cond_wait(&pool.wake, &pool.mu);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.mu);
    idle_since = now();
  }
  return NULL;
}

/* Wakes sleeping workers: after hot or seq changed (a worker checks both
 * under the mutex after it counted itself in sleepers, so none misses it). */
static void wake_sleepers(void) {
  if (atomic_load(&pool.sleepers) == 0)
    return;
  pthread_mutex_lock(&pool.mu);
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.mu);
}

/* At least n workers (fewer if the system refuses threads). */
static void ensure_workers(int n) {
  if (n > CNNC_RT_POOL_MAX_WORKERS)
    n = CNNC_RT_POOL_MAX_WORKERS;
  if (atomic_load(&pool.workers) >= n)
    return;
  pthread_mutex_lock(&pool.mu);
  int w = atomic_load(&pool.workers);
  while (w < n && !atomic_load(&pool.stop) &&
         pthread_create(&pool.threads[w], NULL, worker_main, NULL) == 0)
    atomic_store(&pool.workers, ++w);
  pthread_mutex_unlock(&pool.mu);
}

int cnnc_rt_pool_do_par_for(void *user_context, halide_task_t f, int min,
                            int extent, uint8_t *closure) {
  /* The kernels' user context is the ctx running them. */
  const cnnc_ctx *ctx = (const cnnc_ctx *)user_context;
  int threads = ctx && ctx->magic == CNNC_CTX_MAGIC && ctx->num_threads > 0
                    ? ctx->num_threads
                    : cnnc_rt_pool_default_threads();
  int zero = 0;
  if (extent <= 1 || threads <= 1 || tls_in_worker ||
      !atomic_compare_exchange_strong(&pool.busy, &zero, 1)) {
    for (int i = 0; i < extent; ++i) {
      int r = f(user_context, min + i, closure);
      if (r != 0)
        return r;
    }
    return 0;
  }
  int helpers = (extent < threads ? extent : threads) - 1;
  ensure_workers(helpers);
  /* Workers that looked at the previous loop after it closed. */
  while (atomic_load(&pool.users) != 0)
    cpu_relax();
  pool.f = f;
  pool.user_context = user_context;
  pool.closure = closure;
  pool.min = min;
  pool.extent = extent;
  pool.slots = helpers;
  pool.parts = helpers + 1;
  for (int p = 0; p < pool.parts; ++p) {
    atomic_store(&pool.block[p].next, (int)((int64_t)p * extent / pool.parts));
    pool.block[p].end = (int)((int64_t)(p + 1) * extent / pool.parts);
  }
  atomic_store(&pool.done, 0);
  atomic_store(&pool.joined, 0);
  atomic_store(&pool.err, 0);
  int was_hot = atomic_fetch_add(&pool.hot, 1); /* covers a loop outside a run */
  atomic_fetch_add(&pool.seq, 1);               /* open */
  if (!was_hot)
    wake_sleepers();
  run_tasks(0);
  while (atomic_load(&pool.done) < extent)
    cpu_relax();
  atomic_fetch_add(&pool.seq, 1); /* closed */
  atomic_fetch_sub(&pool.hot, 1);
  int r = atomic_load(&pool.err);
  atomic_store(&pool.busy, 0);
  return r;
}

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static void install(void) {
  if (halide_set_custom_do_par_for)
    halide_set_custom_do_par_for(cnnc_rt_pool_do_par_for);
}

int cnnc_rt_pool_begin(const cnnc_ctx *ctx) {
  pthread_once(&install_once, install);
  int threads = ctx->num_threads > 0 ? ctx->num_threads
                                     : cnnc_rt_pool_default_threads();
  /* A GPU model's kernels run on the device: no spinning for them. */
  if (threads <= 1 || cnnc_rt_on_device(ctx))
    return 0;
  if (atomic_fetch_add(&pool.hot, 1) == 0)
    wake_sleepers(); /* they spin from now, ready for the first loop */
  return 1;
}

void cnnc_rt_pool_end(int began) {
  if (began)
    atomic_fetch_sub(&pool.hot, 1);
}

int cnnc_rt_pool_workers(void) { return atomic_load(&pool.workers); }

/* At exit or dlclose of model.so: the workers run this library's code, so
 * they must be gone before it is unmapped. */
__attribute__((destructor)) static void pool_shutdown(void) {
  atomic_store(&pool.stop, 1);
  pthread_mutex_lock(&pool.mu);
  pthread_cond_broadcast(&pool.wake);
  int n = atomic_load(&pool.workers); /* none is created after stop */
  pthread_mutex_unlock(&pool.mu);
  for (int i = 0; i < n; ++i)
    pthread_join(pool.threads[i], NULL);
  atomic_store(&pool.workers, 0);
}
