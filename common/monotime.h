/* Milliseconds of CLOCK_MONOTONIC: for timeouts and durations, never for wall time. */
#ifndef TS_COMMON_MONOTIME_H
#define TS_COMMON_MONOTIME_H

#include <stdint.h>

uint64_t monotonic_ms(void);

#endif
