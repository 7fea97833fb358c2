/*  mem_proc — resource usage of this process from /proc/self. */
#include "mem_proc.h"
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void
mem_proc_usage (mem_proc_usage_t *usage)
{
    memset (usage, 0, sizeof *usage);
    FILE *file = fopen ("/proc/self/statm", "r");
    if (file) {
        unsigned long size, resident;
        if (fscanf (file, "%lu %lu", &size, &resident) == 2)
            usage->rss_bytes = (uint64_t) resident * (uint64_t) sysconf (_SC_PAGESIZE);
        fclose (file);
    }
    file = fopen ("/proc/self/status", "r");
    if (file) {
        char line[256];
        while (fgets (line, sizeof line, file))
            if (sscanf (line, "Threads: %u", &usage->threads) == 1)
                break;
        fclose (file);
    }
    DIR *dir = opendir ("/proc/self/fd");
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir)))
            if (entry->d_name[0] != '.')
                usage->fds++;
        closedir (dir);
        usage->fds--;   //  the descriptor of this very listing
    }
}
