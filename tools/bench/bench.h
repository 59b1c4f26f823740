/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What vhm-bench.c shares with the benchmarks in files of their own
 * (ipi.c): the accelerator, the output rows, the hang watch.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"

#define RUN_LIMIT	30	/* s: a guest longer is hung */
#define RUN_TRIES	5	/* hung repetitions of a row */
#define DONE_PORT	0xf4	/* OUT here ends a benchmark guest */

extern const struct accel_ops *ops;
extern const char *label;	/* the rows' accel field */
extern int reps;

double now(void);
void emit(const char *accel, const char *bench, const char *unit,
	  const char *better, double v);
void die(const char *what);
void put32(uint8_t *p, uint32_t v);
/*
 * Arm RUN_LIMIT's alarm for the run of v (kicked when it fires), or with v
 * NULL for a vmm_run() (sent SIGTERM: it ends and says where each vCPU
 * was); bench_timed_out() says whether it fired.
 */
void bench_watch(struct accel_vcpu *v);
bool bench_timed_out(void);

void bench_ipi(uint32_t n);

#endif /* BENCH_H */
