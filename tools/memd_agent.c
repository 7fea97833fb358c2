/*  memd_agent — agent ids for projects, and a quick "is memd there"; see
    memd_agent.h. */
#include "memd_agent.h"
#include "memctl_json.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Copies name[0..len) into out as an agent id: cut on a character
//  boundary at MEMD_AGENT_MAX bytes, bad bytes as '_'.
static void
s_clean_name (const char *name, size_t len, char *out, size_t size)
{
    const unsigned char *p = (const unsigned char *) name, *end = p + len;
    size_t limit = size - 1 < MEMD_AGENT_MAX ? size - 1 : MEMD_AGENT_MAX;
    size_t n = 0;
    while (p < end) {
        //  A printable character: no C0 controls, no DEL.
        size_t char_len = *p < 0x20 || *p == 0x7f ? 0 : memctl_utf8_len (p, end);
        size_t take = char_len ? char_len : 1;
        if (n + take > limit)
            break;
        if (char_len)
            memcpy (out + n, p, char_len);
        else
            out[n] = '_';
        n += take;
        p += take;
    }
    out[n] = 0;
}

void
memd_agent_clean (const char *name, size_t len, char *out, size_t size)
{
    s_clean_name (name, len, out, size);
}

void
memd_agent_for_dir (const char *dir, char *out, size_t size)
{
    char path[PATH_MAX];
    if (!dir || !*dir || strlen (dir) >= sizeof path - 6) {
        snprintf (out, size, "default");
        return;
    }
    snprintf (path, sizeof path, "%s", dir);
    size_t len = strlen (path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = 0;

    //  Up to the root of the git work tree, if there is one.
    char probe[PATH_MAX + 8];
    size_t root = len;
    for (size_t at = len; at > 0;) {
        struct stat st;
        snprintf (probe, sizeof probe, "%.*s/.git", (int) at, path);
        if (stat (probe, &st) == 0) {
            root = at;
            break;
        }
        while (at > 0 && path[at - 1] != '/')
            at--;
        while (at > 1 && path[at - 1] == '/')
            at--;
        if (at <= 1)
            break;
    }
    path[root] = 0;
    const char *base = strrchr (path, '/');
    base = base ? base + 1 : path;
    if (!*base || strcmp (base, ".") == 0 || strcmp (base, "..") == 0)
        snprintf (out, size, "default");
    else
        s_clean_name (base, strlen (base), out, size);
    if (!*out)
        snprintf (out, size, "default");
}

void
memd_agent_resolve (const char *flag, const char *dir, char *out, size_t size)
{
    const char *env = getenv ("MEMD_AGENT");
    const char *project = getenv ("CLAUDE_PROJECT_DIR");
    if (flag && *flag)
        s_clean_name (flag, strlen (flag), out, size);
    else if (env && *env)
        s_clean_name (env, strlen (env), out, size);
    else if (project && *project)
        memd_agent_for_dir (project, out, size);
    else if (dir && *dir)
        memd_agent_for_dir (dir, out, size);
    else {
        char cwd[PATH_MAX];
        memd_agent_for_dir (getcwd (cwd, sizeof cwd) ? cwd : NULL, out, size);
    }
    if (!*out)
        snprintf (out, size, "default");
}

bool
memd_endpoint_absent (const char *endpoint)
{
    if (!endpoint || strncmp (endpoint, "ipc://", 6) != 0)
        return false;
    const char *path = endpoint + 6;
    if (*path == '@')
        return false;   //  an abstract socket has no file to look at
    struct stat st;
    return stat (path, &st) != 0 && errno == ENOENT;
}

//  --------------------------------------------------------------------------
//  Recent captures

#define S_RECENT_BYTES (8u << 10)   //  state file size that triggers a rewrite

//  The state file of this agent and endpoint: a readable prefix of the
//  agent and a hash of both. With create_dir, makes its directory.
static int
s_recent_path (const char *endpoint, const char *agent, char *path, size_t size,
               bool create_dir)
{
    const char *state = getenv ("XDG_STATE_HOME");
    const char *home = getenv ("HOME");
    char dir[PATH_MAX];
    if (state && *state == '/')
        snprintf (dir, sizeof dir, "%s/memd/hooks", state);
    else if (home && *home)
        snprintf (dir, sizeof dir, "%s/.local/state/memd/hooks", home);
    else {
        errno = ENOENT;
        return -1;
    }
    if (create_dir) {
        //  mkdir -p, private: the names say which projects exist.
        for (char *p = dir + 1; *p; p++)
            if (*p == '/') {
                *p = 0;
                mkdir (dir, 0700);
                *p = '/';
            }
        if (mkdir (dir, 0700) && errno != EEXIST)
            return -1;
    }
    uint64_t hash = 14695981039346656037ULL;   //  FNV-1a of endpoint "\n" agent
    for (const char *p = endpoint; *p; p++)
        hash = (hash ^ (unsigned char) *p) * 1099511628211ULL;
    hash = (hash ^ '\n') * 1099511628211ULL;
    for (const char *p = agent; *p; p++)
        hash = (hash ^ (unsigned char) *p) * 1099511628211ULL;
    char name[49];
    size_t n = 0;
    for (const char *p = agent; *p && n < sizeof name - 1; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.';
        name[n++] = plain ? *p : '_';
    }
    name[n] = 0;
    int len = snprintf (path, size, "%s/%s-%016llx.ids", dir, name, (unsigned long long) hash);
    if (len <= 0 || (size_t) len >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

//  The last max distinct ids of a state file, newest first.
static size_t
s_recent_load (const char *path, uint64_t *ids, size_t max)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    //  The latest ids are the last lines: keep a ring of the last ones read.
    uint64_t ring[MEMD_RECENT_KEEP * 4];
    size_t n = 0, cap = sizeof ring / sizeof ring[0];
    unsigned long long id;
    while (fscanf (file, "%llu", &id) == 1)
        if (id > 0)
            ring[n++ % cap] = id;
    fclose (file);
    size_t out = 0, have = n < cap ? n : cap;
    for (size_t back = 1; back <= have && out < max; back++) {
        uint64_t one = ring[(n - back) % cap];
        bool seen = false;
        for (size_t j = 0; j < out && !seen; j++)
            seen = ids[j] == one;
        if (!seen)
            ids[out++] = one;
    }
    //  Ids grow with time: newest first is largest first.
    for (size_t i = 1; i < out; i++)
        for (size_t j = i; j > 0 && ids[j] > ids[j - 1]; j--) {
            uint64_t swap = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = swap;
        }
    return out;
}

size_t
memd_recent_read (const char *endpoint, const char *agent, uint64_t *ids, size_t max)
{
    char path[PATH_MAX];
    if (s_recent_path (endpoint, agent, path, sizeof path, false))
        return 0;
    return s_recent_load (path, ids, max);
}

int
memd_recent_add (const char *endpoint, const char *agent, uint64_t id)
{
    char path[PATH_MAX];
    if (s_recent_path (endpoint, agent, path, sizeof path, true))
        return -1;
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char line[32];
    int len = snprintf (line, sizeof line, "%llu\n", (unsigned long long) id);
    struct stat st;
    bool ok = write (fd, line, (size_t) len) == len && fstat (fd, &st) == 0;
    int saved = errno;
    close (fd);
    if (!ok) {
        errno = saved;
        return -1;
    }
    if (st.st_size <= (off_t) S_RECENT_BYTES)
        return 0;
    //  Keep the file small: rewrite it with the ids that matter.
    uint64_t ids[MEMD_RECENT_KEEP];
    size_t n = s_recent_load (path, ids, MEMD_RECENT_KEEP);
    char tmp[PATH_MAX + 16];
    snprintf (tmp, sizeof tmp, "%s.%d", path, (int) getpid ());
    FILE *file = fopen (tmp, "w");
    if (!file)
        return 0;
    for (size_t i = n; i-- > 0;)
        fprintf (file, "%llu\n", (unsigned long long) ids[i]);
    if (fclose (file) == 0)
        rename (tmp, path);
    else
        unlink (tmp);
    return 0;
}
