/*
 * Runner threads: where KVM_RUN, snapshot copies and VM teardown happen, so the JavaScript thread never blocks.
 * Not libuv's threadpool: a guest that spins until its deadline would hold one of its four threads and stall the
 * process's file system and DNS work. Threads are started on demand (one per job running at the same time, up to
 * MAX_RUNNERS), kept while work keeps coming and leave after IDLE_EXIT_S seconds without a job (KEEP_RUNNERS stay).
 *
 * Each runner has a POSIX timer aimed at itself (SIGEV_THREAD_ID) that delivers the kick signal at a run's
 * deadline: the timeout costs nothing while the guest runs (no watchdog thread polling on a 2-core machine).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

#define MAX_RUNNERS 128
#define KEEP_RUNNERS 2
#define IDLE_EXIT_S 30
#define RUNNER_STACK (256 * 1024)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static struct ak_job *head, *tail;
static int queued, idle, total;

static __thread timer_t my_timer;
static __thread int have_timer;

static void init_wake(void) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&wake, &a);
  pthread_condattr_destroy(&a);
}

int ak_runner_arm(uint64_t deadline_ns) {
  if (!have_timer) {
    errno = ENOTSUP;
    return -1;
  }
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  its.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ull);
  its.it_value.tv_nsec = (long)(deadline_ns % 1000000000ull);
  return timer_settime(my_timer, deadline_ns ? TIMER_ABSTIME : 0, &its, NULL);
}

static void *runner_main(void *arg) {
  (void)arg;
  int kick = ak_kvm_probe()->kick_signal;
  /* Only the kick signal (and faults) may land here: process-wide signals are Node's to handle. */
  sigset_t set;
  sigfillset(&set);
  sigdelset(&set, kick);
  sigdelset(&set, SIGSEGV);
  sigdelset(&set, SIGBUS);
  sigdelset(&set, SIGFPE);
  sigdelset(&set, SIGILL);
  pthread_sigmask(SIG_SETMASK, &set, NULL);

  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kick;
#ifdef sigev_notify_thread_id
  sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
#else
  sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
#endif
  have_timer = timer_create(CLOCK_MONOTONIC, &sev, &my_timer) == 0;

  pthread_mutex_lock(&lock);
  for (;;) {
    while (!head) {
      struct timespec until;
      clock_gettime(CLOCK_MONOTONIC, &until);
      until.tv_sec += IDLE_EXIT_S;
      idle++;
      atomic_fetch_add(&ak_stats.runners_idle, 1);
      int r = pthread_cond_timedwait(&wake, &lock, &until);
      idle--;
      atomic_fetch_sub(&ak_stats.runners_idle, 1);
      if (r == ETIMEDOUT && !head && total > KEEP_RUNNERS) {
        total--;
        atomic_fetch_sub(&ak_stats.runners, 1);
        pthread_mutex_unlock(&lock);
        if (have_timer) timer_delete(my_timer);
        return NULL;
      }
    }
    struct ak_job *job = head;
    head = job->next;
    if (!head) tail = NULL;
    queued--;
    pthread_mutex_unlock(&lock);
    job->next = NULL;
    job->work(job);
    job->done(job);
    pthread_mutex_lock(&lock);
  }
}

int ak_runner_submit(struct ak_job *job, char *err) {
  pthread_once(&wake_once, init_wake);
  const struct ak_probe *probe = ak_kvm_probe();
  if (!probe->ok) {
    snprintf(err, AK_ERR_LEN, "%s", probe->reason);
    return -1;
  }
  pthread_mutex_lock(&lock);
  job->next = NULL;
  if (tail) tail->next = job;
  else head = job;
  tail = job;
  queued++;
  int rc = 0;
  if (idle >= queued) {
    pthread_cond_signal(&wake);
  } else if (total < MAX_RUNNERS) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, RUNNER_STACK);
    pthread_t t;
    int e = pthread_create(&t, &attr, runner_main, NULL);
    pthread_attr_destroy(&attr);
    if (e == 0) {
      total++;
      atomic_fetch_add(&ak_stats.runners, 1);
    } else if (total == 0) {
      /* nobody will ever take the job: undo it */
      head = tail = NULL;
      queued--;
      snprintf(err, AK_ERR_LEN, "cannot start a runner thread: %s", strerror(e));
      rc = -1;
    }
    /* otherwise a busy runner takes it when it is free */
  }
  pthread_mutex_unlock(&lock);
  return rc;
}
