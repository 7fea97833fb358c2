/*  mem_proc — what this process costs, read from /proc/self (status). */
#ifndef MEM_PROC_H_INCLUDED
#define MEM_PROC_H_INCLUDED

#include <stdint.h>

typedef struct {
    uint64_t rss_bytes;
    uint32_t fds;
    uint32_t threads;
} mem_proc_usage_t;

/* Fills usage; fields it cannot read stay 0. */
void mem_proc_usage (mem_proc_usage_t *usage);

#endif
