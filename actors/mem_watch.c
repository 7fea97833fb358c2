/*  mem_watch — transcript capture (issue 9; docs/agents.md).

    Watches the directories of watch/dirs, and their subdirectories down to
    watch/depth, for JSONL transcripts (*.jsonl) through ONE inotify
    descriptor. inotify watches are per directory, never per file, and
    every watch shares the one descriptor, so memd's descriptor count does
    not grow with the number of transcripts (DESIGN §3 lesson 8). A file is
    opened only while a chunk of it is read, and a directory only while it
    is scanned.

    Complete new lines become records (memd_transcript.h: agent = the
    project, from the file's first "cwd"; session = the session id, else
    the file's stem; kind; role; timestamp). They go to the writer as an
    ordinary Capture request on a line of their own
    (MEM_INPROC_CAPTURE_WATCH) with one more frame: the file's new position
    (mem_watchpos.h), which the writer stores in the same transaction as
    the records. So a restart resumes where the last commit ended: no line
    skipped, none repeated. The writer redacts and dedupes these records as
    it does every capture.

    Each file has at most one request in flight, covering at most
    watch/chunk_kb of it; a larger backlog goes chunk by chunk, files in
    turn. A partial last line waits for its newline. A file whose size fell
    below its offset (truncated), whose inode changed (rotated or replaced)
    or whose first bytes changed (rewritten in place) is read again from
    the start; dedupe makes the lines seen before harmless. At start, and
    after an inotify queue overflow, every directory is scanned again
    (one directory per turn), which also catches what was written while
    memd was down.

    Wakeups: the inotify descriptor, the writer's replies and the pipe
    (zmq_poll, which takes sockets and plain descriptors alike). With
    nothing to read it blocks with no timer, so an idle directory costs
    nothing; its one timer is the retry after a failed write, armed only
    then. While it has writes in flight it tells the lifecycle it is busy
    (work in flight keeps memd awake); watching is never activity.

    Status: a WatchStatus snapshot goes to the frontend on the events line
    (internal topic MEM_STATUS_WATCH) when the numbers change, at most
    every SNAPSHOT_MS while busy and always when it becomes idle.
*/
#include "mem_actors.h"
#include "mem_log.h"
#include "mem_watchpos.h"
#include "memctl_json.h"
#include "memd_agent.h"
#include "memd_transcript.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_IN_FLIGHT   64            //  requests with the writer at once (one per file)
#define FILES_PER_TURN  16            //  file reads between two looks at the sockets
#define EVENT_READS     4             //  inotify reads per turn
#define EVENT_BUFFER    (64 * 1024)
#define REMOVALS_PER_WRITE 256        //  dropped positions in one request
#define SNAPSHOT_MS     250           //  status snapshots while busy, at most this often
#define RETRY_MIN_MS    1000          //  after a failed write, doubling
#define RETRY_MAX_MS    60000
#define AGENT_CACHE_MAX 256           //  project directories remembered with their agent
#define HEAD_SCAN_BYTES (64 * 1024)   //  read from a file's start to find its project
#define MAX_RECORDS     1000          //  records in one request (and capture/max_batch)
#define SUFFIX          ".jsonl"

#define DIR_EVENTS                                                                             \
    (IN_CLOSE_WRITE | IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE          \
     | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

typedef struct {
    int wd;
    char *path;
    int depth;                 //  0: a root of watch/dirs; -1: the parent of a missing root
    void *scan;                //  handle in the scan list, or NULL
} s_dir_t;

typedef struct {
    char *path;
    char *session;             //  the file's stem: the session of lines that name none
    char *agent;               //  the project, once a line named it ("cwd"); else NULL
    uint32_t head_scanned;     //  bytes of the file's start looked through for a "cwd"
    mem_watchpos_t pos;        //  as committed
    bool stored;               //  a position of this path is (or may be) in the store
    void *ready;               //  handle in the ready list, or NULL
    bool in_flight;
    bool dirty;                //  changed while in flight: read again after the reply
    bool more;                 //  the last read stopped before the end of the file
    bool gone;                 //  deleted while in flight: dropped at the reply
} s_file_t;

typedef struct {
    uint64_t seq;              //  0 = a free slot
    s_file_t *file;            //  NULL for a request that drops positions
    mem_watchpos_t pos;        //  the file's position once committed
    uint64_t lines, skipped, bytes;
    zlist_t *removals;         //  paths whose positions it drops (owned)
} s_flight_t;

typedef struct {
    char *path;
    bool watched;
} s_root_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *writer;           //  PAIR to the capture actor
    zsock_t *busy;             //  PUSH to the lifecycle: work in flight
    zsock_t *events;           //  PUSH to the frontend: status snapshots
    mem_context_t *ctx;
    const mem_watch_config_t *config;
    int ifd;                   //  the one inotify descriptor (-1 if there is none)
    s_root_t *roots;
    size_t n_roots;
    zhashx_t *dirs;            //  "wd" → s_dir_t
    zhashx_t *files;           //  path → s_file_t
    zlistx_t *ready;           //  s_file_t * that may have lines to read
    zlistx_t *scans;           //  s_dir_t * to scan
    zlist_t *removals;         //  char * paths whose stored positions go
    zhashx_t *agents;          //  project directory → agent id (bounded)
    s_flight_t flights[MAX_IN_FLIGHT];
    size_t n_flight;
    uint64_t next_seq;
    uint8_t *buf;              //  read buffer
    size_t buf_size;
    size_t max_records;
    //  Status.
    uint64_t lines, records, duplicates, skipped, bytes;
    char last_error[512];
    int64_t last_error_ms;
    bool write_error;          //  last_error is a failed write (cleared by the next commit)
    int64_t last_ingest_ms;
    bool changed;              //  since the last snapshot
    int64_t snapshot_ms;       //  monotonic
    bool busy_told;
    int64_t retry_at;          //  monotonic; 0 = no retry pending
    int64_t retry_ms;
    bool terminated;
} self_t;

static void s_file_forget (self_t *self, s_file_t *file);

//  A problem for status and the log.
static void s_error (self_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_error (self_t *self, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (self->last_error, sizeof self->last_error, fmt, args);
    va_end (args);
    self->last_error_ms = mem_now_ms ();
    self->write_error = false;
    self->changed = true;
    mem_log_warn ("watch: %s", self->last_error);
}

static bool
s_is_transcript (const char *name)
{
    size_t len = strlen (name), suffix = strlen (SUFFIX);
    return len > suffix && streq (name + len - suffix, SUFFIX) && name[0] != '.';
}

//  --------------------------------------------------------------------------
//  Directories

static void
s_dir_destroy (void **item_p)
{
    s_dir_t *dir = *item_p;
    if (dir) {
        free (dir->path);
        free (dir);
        *item_p = NULL;
    }
}

static s_dir_t *
s_dir_lookup (self_t *self, int wd)
{
    char key[16];
    snprintf (key, sizeof key, "%d", wd);
    return zhashx_lookup (self->dirs, key);
}

static void
s_dir_scan_later (self_t *self, s_dir_t *dir)
{
    if (dir->depth >= 0 && !dir->scan)
        dir->scan = zlistx_add_end (self->scans, dir);
}

//  Watches a directory (and queues its scan). Returns it, or NULL with
//  errno set.
static s_dir_t *
s_dir_add (self_t *self, const char *path, int depth)
{
    int wd = inotify_add_watch (self->ifd, path, DIR_EVENTS);
    if (wd < 0)
        return NULL;
    s_dir_t *dir = s_dir_lookup (self, wd);
    if (dir) {
        //  The same directory again (through a link, or a root below
        //  another root): the shallower depth, which watches more below it.
        if (dir->depth < 0 || (depth >= 0 && depth < dir->depth)) {
            char *copy = strdup (path);
            if (copy) {
                free (dir->path);
                dir->path = copy;
                dir->depth = depth;
            }
        }
    }
    else {
        dir = calloc (1, sizeof *dir);
        if (!dir || !(dir->path = strdup (path))) {
            free (dir);
            inotify_rm_watch (self->ifd, wd);
            errno = ENOMEM;
            return NULL;
        }
        dir->wd = wd;
        dir->depth = depth;
        char key[16];
        snprintf (key, sizeof key, "%d", wd);
        zhashx_insert (self->dirs, key, dir);
    }
    s_dir_scan_later (self, dir);
    self->changed = true;
    return dir;
}

//  Forgets a directory; with unwatch, removes its inotify watch too.
static void
s_dir_drop (self_t *self, s_dir_t *dir, bool unwatch)
{
    if (unwatch)
        inotify_rm_watch (self->ifd, dir->wd);
    if (dir->scan)
        zlistx_delete (self->scans, dir->scan);
    char key[16];
    snprintf (key, sizeof key, "%d", dir->wd);
    zhashx_delete (self->dirs, key);
    self->changed = true;
}

//  True if path is prefix or below it.
static bool
s_under (const char *path, const char *prefix)
{
    size_t len = strlen (prefix);
    return strncmp (path, prefix, len) == 0 && (path[len] == 0 || path[len] == '/');
}

//  A directory left the tree (deleted, moved away): its watches and its
//  files go.
static void
s_subtree_drop (self_t *self, const char *path)
{
    zlist_t *gone = zlist_new ();
    for (s_dir_t *dir = zhashx_first (self->dirs); dir; dir = zhashx_next (self->dirs))
        if (dir->depth >= 0 && s_under (dir->path, path))
            zlist_append (gone, dir);
    for (s_dir_t *dir = zlist_first (gone); dir; dir = zlist_next (gone))
        s_dir_drop (self, dir, true);
    zlist_purge (gone);
    for (s_file_t *file = zhashx_first (self->files); file; file = zhashx_next (self->files))
        if (s_under (file->path, path))
            zlist_append (gone, file);
    for (s_file_t *file = zlist_first (gone); file; file = zlist_next (gone))
        s_file_forget (self, file);
    zlist_destroy (&gone);
}

//  Watches root i, or, while it does not exist, its parent for it to appear.
static void
s_root_watch (self_t *self, size_t i)
{
    s_root_t *root = &self->roots[i];
    if (s_dir_add (self, root->path, 0)) {
        root->watched = true;
        return;
    }
    int error = errno;
    root->watched = false;
    char parent[PATH_MAX];
    snprintf (parent, sizeof parent, "%s", root->path);
    char *slash = strrchr (parent, '/');
    if (slash == parent)
        slash[1] = 0;
    else if (slash)
        *slash = 0;
    if (error == ENOENT && slash && s_dir_add (self, parent, -1))
        s_error (self, "%s does not exist (yet); watching %s for it", root->path, parent);
    else if (error == ENOSPC)
        s_error (self, "cannot watch %s: the inotify watch limit is reached "
                       "(sysctl fs.inotify.max_user_watches)",
                 root->path);
    else
        s_error (self, "cannot watch %s: %s", root->path, strerror (error));
}

//  A directory appeared in the parent of a missing root: is it the root?
static void
s_root_arrived (self_t *self, const char *path)
{
    for (size_t i = 0; i < self->n_roots; i++)
        if (!self->roots[i].watched && streq (self->roots[i].path, path)) {
            s_root_watch (self, i);
            if (self->roots[i].watched)
                mem_log_info ("watch: %s appeared; watching it", path);
        }
}

//  --------------------------------------------------------------------------
//  Files

static void
s_file_destroy (void **item_p)
{
    s_file_t *file = *item_p;
    if (file) {
        free (file->path);
        free (file->session);
        free (file->agent);
        free (file);
        *item_p = NULL;
    }
}

//  Queues a file for a read (after its reply, if a request is in flight).
static void
s_file_ready (self_t *self, s_file_t *file)
{
    if (file->in_flight)
        file->dirty = true;
    else if (!file->ready)
        file->ready = zlistx_add_end (self->ready, file);
}

//  The file at path, known or new (its stored position read in txn, or
//  in a read transaction of its own when txn is NULL); NULL if there are
//  too many files or no memory.
static s_file_t *
s_file_get (self_t *self, const char *path, MDB_txn *txn)
{
    s_file_t *file = zhashx_lookup (self->files, path);
    if (file)
        return file;
    if (zhashx_size (self->files) >= self->config->max_files) {
        s_error (self, "more than %zu transcript files (watch/max_files): %s is not ingested",
                 self->config->max_files, path);
        return NULL;
    }
    if (strlen (path) > MEM_WATCHPOS_PATH_MAX)
        return NULL;
    file = calloc (1, sizeof *file);
    if (!file || !(file->path = strdup (path))) {
        free (file);
        return NULL;
    }
    //  The session of lines that name none: the file name less .jsonl.
    const char *base = strrchr (path, '/');
    base = base ? base + 1 : path;
    char session[MEMD_AGENT_MAX + 1];
    memd_agent_clean (base, strlen (base) - strlen (SUFFIX), session, sizeof session);
    file->session = strdup (*session ? session : "transcript");
    MDB_txn *own = NULL;
    if (!txn && mem_store_read_begin (self->ctx->store, &own) == 0)
        txn = own;
    int rc = txn ? mem_watchpos_get (self->ctx->store, txn, path, &file->pos) : EIO;
    if (own)
        mem_store_read_end (self->ctx->store, &own);
    if (rc == 0)
        file->stored = true;
    else {
        memset (&file->pos, 0, sizeof file->pos);
        if (rc != MDB_NOTFOUND)
            s_error (self, "cannot read the position of %s: %s (reading it from the start)", path,
                     mdb_strerror (rc));
    }
    zhashx_insert (self->files, path, file);
    self->changed = true;
    return file;
}

//  The file is gone (deleted, moved away): forget it, and its stored
//  position. A file with a request in flight goes when the reply comes.
static void
s_file_forget (self_t *self, s_file_t *file)
{
    if (file->in_flight) {
        file->gone = true;
        return;
    }
    if (file->ready)
        zlistx_delete (self->ready, file->ready);
    if (file->stored)
        zlist_append (self->removals, file->path);   //  copied (autofree)
    zhashx_delete (self->files, file->path);
    self->changed = true;
}

//  The agent of a project directory (cached: the lookup climbs to the git root).
static const char *
s_agent_for_dir (self_t *self, const char *cwd)
{
    const char *agent = zhashx_lookup (self->agents, cwd);
    if (agent)
        return agent;
    char id[MEMD_AGENT_MAX + 1];
    memd_agent_for_dir (cwd, id, sizeof id);
    if (zhashx_size (self->agents) >= AGENT_CACHE_MAX)
        zhashx_purge (self->agents);
    zhashx_insert (self->agents, cwd, strdup (id));
    return zhashx_lookup (self->agents, cwd);
}

//  The file's agent: the project its first "cwd" names (found in its first
//  HEAD_SCAN_BYTES), the same id the hooks and memd-mcp give that project;
//  else the name of the file's directory (into fallback, not kept).
static const char *
s_file_agent (self_t *self, s_file_t *file, int fd, char *fallback, size_t size)
{
    if (file->agent)
        return file->agent;
    //  Where the last look stopped (the lines before it have no "cwd").
    size_t want = HEAD_SCAN_BYTES - file->head_scanned;
    char *head = want ? malloc (want) : NULL;
    ssize_t got = head ? pread (fd, head, want, file->head_scanned) : -1;
    for (char *line = head, *end = head + (got > 0 ? got : 0); line < end && !file->agent;) {
        char *nl = memchr (line, '\n', (size_t) (end - line));
        if (!nl)
            break;
        json_t *entry = json_loadb (line, (size_t) (nl - line), 0, NULL);
        const char *cwd = memd_transcript_cwd (entry);
        if (cwd)
            file->agent = strdup (s_agent_for_dir (self, cwd));
        json_decref (entry);
        file->head_scanned += (uint32_t) (nl + 1 - line);
        line = nl + 1;
    }
    if (got > 0 && (size_t) got == want && !file->agent)
        file->head_scanned = HEAD_SCAN_BYTES;   //  a long first line: look no further
    free (head);
    if (file->agent)
        return file->agent;
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s", file->path);
    char *slash = strrchr (dir, '/');
    if (slash)
        *slash = 0;
    const char *name = strrchr (dir, '/');
    name = name ? name + 1 : dir;
    memd_agent_clean (name, strlen (name), fallback, size);
    if (!*fallback)
        snprintf (fallback, size, "default");
    return fallback;
}

static int
s_buf_reserve (self_t *self, size_t size)
{
    if (size <= self->buf_size)
        return 0;
    uint8_t *grown = realloc (self->buf, size);
    if (!grown)
        return -1;
    self->buf = grown;
    self->buf_size = size;
    return 0;
}

//  The records of the complete lines in buf[0..*used), up to max_records:
//  *used shrinks to the end of the last line taken. Counts the lines and
//  those skipped (not JSON, not a valid record).
static void
s_parse_lines (self_t *self, const char *agent, const s_file_t *file, size_t *used,
               Memd__V1__Record **records, size_t *n_records, uint64_t *lines,
               uint64_t *skipped)
{
    memd_transcript_file_t defaults = {.agent = agent,
                                       .session = file->session,
                                       .max_text = self->ctx->limits.max_text_bytes};
    char *text = (char *) self->buf;
    size_t at = 0;
    while (at < *used && *n_records < self->max_records) {
        char *nl = memchr (text + at, '\n', *used - at);
        size_t len = (size_t) (nl - (text + at));
        const char *line = text + at;
        at += len + 1;
        (*lines)++;
        if (strspn (line, " \t\r") >= len)
            continue;   //  a blank line
        json_error_t jerr;
        json_t *entry = json_loadb (line, len, 0, &jerr);
        Memd__V1__Record *record = NULL;
        char err[256];
        int rc = entry ? memd_transcript_record (entry, &defaults, &record, err, sizeof err) : -1;
        json_decref (entry);
        if (rc == 1) {
            //  Checked as the frontend checks a client's record.
            Memd__V1__Record *one[1] = {record};
            Memd__V1__Capture cap = MEMD__V1__CAPTURE__INIT;
            cap.records = one;
            cap.n_records = 1;
            Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
            req.agent_id = (char *) agent;
            req.op_case = MEMD__V1__REQUEST__OP_CAPTURE;
            req.capture = &cap;
            if (mem_codec_request_validate (&req, &self->ctx->limits, err, sizeof err) == MEM_OK)
                records[(*n_records)++] = record;
            else {
                memctl_record_destroy (&record);
                rc = -1;
            }
        }
        if (rc < 0) {
            (*skipped)++;
            mem_log_debug ("watch: %s: line at byte %llu skipped: %s", file->path,
                           (unsigned long long) (file->pos.offset + (size_t) (line - text)),
                           entry ? err : jerr.text);
        }
    }
    *used = at;
}

//  Sends [seq][request][positions] to the writer and takes a flight slot.
//  Returns 0, or -1 (nothing is in flight then).
static int
s_send (self_t *self, s_flight_t *flight, const char *agent, Memd__V1__Record **records,
        size_t n_records, const uint8_t *positions, size_t positions_size)
{
    Memd__V1__Capture cap = MEMD__V1__CAPTURE__INIT;
    cap.records = records;
    cap.n_records = n_records;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.request_id = ++self->next_seq;
    req.protocol_version = MEM_PROTOCOL_VERSION;
    req.agent_id = (char *) agent;
    req.op_case = MEMD__V1__REQUEST__OP_CAPTURE;
    req.capture = &cap;
    zframe_t *bytes = mem_codec_pack (&req.base);
    if (!bytes)
        return -1;
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, &req.request_id, sizeof req.request_id);
    zmsg_append (msg, &bytes);
    zmsg_addmem (msg, positions, positions_size);
    if (zmsg_send (&msg, self->writer)) {
        zmsg_destroy (&msg);
        return -1;
    }
    flight->seq = req.request_id;
    self->n_flight++;
    return 0;
}

static s_flight_t *
s_flight_free_slot (self_t *self)
{
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
        if (!self->flights[i].seq)
            return &self->flights[i];
    return NULL;
}

//  Reads the next chunk of a file and sends its records with the new
//  position; nothing when there is no complete new line.
static void
s_ingest (self_t *self, s_file_t *file)
{
    file->more = false;
    int fd = open (file->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            s_file_forget (self, file);   //  deleted: its event may have been lost
        else
            s_error (self, "cannot read %s: %s", file->path, strerror (errno));
        return;
    }
    struct stat st;
    uint8_t head[MEM_WATCHPOS_HEAD];
    ssize_t head_got = -1;
    bool regular = fstat (fd, &st) == 0 && S_ISREG (st.st_mode);
    if (regular)
        head_got = pread (fd, head, sizeof head, 0);
    if (head_got < 0) {
        if (!regular)
            s_file_forget (self, file);   //  not a file we can read lines from
        else
            s_error (self, "cannot read %s: %s", file->path, strerror (errno));
        close (fd);
        return;
    }
    //  Where to start: the committed offset, unless the file is not the
    //  one it belongs to any more.
    mem_watchpos_t pos = file->pos;
    uint64_t size = (uint64_t) st.st_size;
    const char *restart = NULL;
    if (pos.ino != (uint64_t) st.st_ino)
        restart = pos.offset ? "is a new file (rotated or replaced)" : NULL;
    else if (size < pos.offset)
        restart = "was truncated";
    else if (pos.head_len && ((size_t) head_got < pos.head_len
                              || mem_watchpos_hash (head, pos.head_len) != pos.head_hash))
        restart = "was rewritten";
    if (restart) {
        mem_log_info ("watch: %s %s; reading it from the start", file->path, restart);
        file->head_scanned = 0;
    }
    if (restart || pos.ino != (uint64_t) st.st_ino) {
        memset (&pos, 0, sizeof pos);
        pos.ino = (uint64_t) st.st_ino;
        file->pos = pos;   //  stored with the first lines read from it
    }
    size_t chunk = self->config->chunk_bytes;
    size_t have = 0, used = 0;
    bool skip_long = false;
    while (pos.offset + have < size) {
        size_t want = (size_t) (size - pos.offset - have);
        if (want > chunk)
            want = chunk;
        if (have + want > self->config->max_line_bytes && have)
            want = self->config->max_line_bytes > have ? self->config->max_line_bytes - have : 0;
        if (!want || s_buf_reserve (self, have + want))
            break;
        ssize_t got = pread (fd, self->buf + have, want, (off_t) (pos.offset + have));
        if (got <= 0)
            break;
        uint8_t *nl = memrchr (self->buf + have, '\n', (size_t) got);
        have += (size_t) got;
        if (nl) {
            used = (size_t) (nl - self->buf) + 1;
            break;
        }
        if (have >= self->config->max_line_bytes) {
            skip_long = true;   //  one line over the limit: skip what was read of it
            used = have;
            break;
        }
    }
    if (!used) {
        close (fd);
        return;   //  nothing new, or a partial last line: wait for its newline
    }
    char fallback[MEMD_AGENT_MAX + 1];
    const char *agent = s_file_agent (self, file, fd, fallback, sizeof fallback);
    close (fd);

    s_flight_t *flight = s_flight_free_slot (self);
    assert (flight);   //  callers check n_flight
    Memd__V1__Record **records = calloc (self->max_records, sizeof *records);
    size_t n_records = 0;
    uint64_t lines = 0, skipped = 0;
    if (!records) {
        s_file_ready (self, file);
        return;
    }
    if (skip_long) {
        skipped = lines = 1;
        s_error (self, "%s: a line over %zu KiB at byte %llu was skipped (watch/max_line_kb)",
                 file->path, self->config->max_line_bytes >> 10,
                 (unsigned long long) pos.offset);
    }
    else
        s_parse_lines (self, agent, file, &used, records, &n_records, &lines, &skipped);
    flight->file = file;
    flight->lines = lines;
    flight->skipped = skipped;
    flight->bytes = used;
    flight->pos = pos;
    flight->pos.offset = pos.offset + used;
    flight->pos.lines = pos.lines + lines;
    uint64_t head_len = flight->pos.offset < (uint64_t) head_got ? flight->pos.offset
                                                                 : (uint64_t) head_got;
    flight->pos.head_len = (uint32_t) head_len;
    flight->pos.head_hash = mem_watchpos_hash (head, (size_t) head_len);
    uint8_t positions[MEM_WATCHPOS_PATH_MAX + 64];
    size_t positions_size
        = mem_watchpos_encode (file->path, &flight->pos, false, positions, sizeof positions);
    if (s_send (self, flight, agent, records, n_records, positions, positions_size) == 0) {
        file->in_flight = true;
        file->more = flight->pos.offset < size;
    }
    else {
        s_error (self, "cannot queue a write for %s", file->path);
        memset (flight, 0, sizeof *flight);
        self->retry_at = mem_mono_ms () + RETRY_MIN_MS;
        s_file_ready (self, file);
    }
    for (size_t i = 0; i < n_records; i++)
        memctl_record_destroy (&records[i]);
    free (records);
    if (self->buf_size > 2 * chunk) {
        free (self->buf);   //  grown for a long line: give the memory back
        self->buf = NULL;
        self->buf_size = 0;
    }
}

//  Drops the stored positions of files that are gone, in one write.
static void
s_send_removals (self_t *self)
{
    s_flight_t *flight = s_flight_free_slot (self);
    size_t size = 0, cap = 0;
    uint8_t *data = NULL;
    zlist_t *paths = zlist_new ();
    zlist_autofree (paths);
    char *path;
    while (zlist_size (paths) < REMOVALS_PER_WRITE && (path = zlist_pop (self->removals))) {
        size_t need = mem_watchpos_encode (path, NULL, true, NULL, 0);
        if (size + need > cap) {
            cap = (size + need) * 2;
            uint8_t *grown = realloc (data, cap);
            if (!grown) {
                free (path);
                break;
            }
            data = grown;
        }
        size += mem_watchpos_encode (path, NULL, true, data + size, cap - size);
        zlist_append (paths, path);
        free (path);
    }
    flight->removals = paths;
    if (size == 0 || s_send (self, flight, "", NULL, 0, data, size)) {
        //  Nothing to send, or no room now: they are dropped at the next start… or never,
        //  which costs a few bytes of meta.
        zlist_destroy (&flight->removals);
        memset (flight, 0, sizeof *flight);
    }
    free (data);
}

//  --------------------------------------------------------------------------
//  Events, scans, replies

static void
s_rescan_all (self_t *self)
{
    for (s_dir_t *dir = zhashx_first (self->dirs); dir; dir = zhashx_next (self->dirs))
        s_dir_scan_later (self, dir);
}

static void
s_event (self_t *self, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        s_error (self, "the inotify queue overflowed; scanning every directory again");
        s_rescan_all (self);
        return;
    }
    s_dir_t *dir = s_dir_lookup (self, ev->wd);
    if (!dir)
        return;
    if (ev->mask & IN_IGNORED) {
        s_dir_drop (self, dir, false);   //  the kernel dropped the watch (deleted, unmounted)
        return;
    }
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        if (dir->depth == 0) {
            char *path = strdup (dir->path);
            s_dir_drop (self, dir, true);
            for (size_t i = 0; path && i < self->n_roots; i++)
                if (streq (self->roots[i].path, path)) {
                    s_subtree_drop (self, path);
                    s_root_watch (self, i);   //  its parent, until it is back
                }
            free (path);
        }
        return;   //  below a root, the parent's event says it
    }
    if (!ev->len)
        return;
    char path[PATH_MAX];
    if (snprintf (path, sizeof path, "%s/%s", dir->path, ev->name) >= (int) sizeof path)
        return;
    if (ev->mask & IN_ISDIR) {
        if (dir->depth < 0) {
            if (ev->mask & (IN_CREATE | IN_MOVED_TO))
                s_root_arrived (self, path);
        }
        else if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
            if ((unsigned) dir->depth < self->config->depth
                && !s_dir_add (self, path, dir->depth + 1))
                s_error (self, "cannot watch %s: %s", path, strerror (errno));
        }
        else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
            s_subtree_drop (self, path);
        return;
    }
    if (dir->depth < 0 || !s_is_transcript (ev->name))
        return;
    if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        s_file_t *file = zhashx_lookup (self->files, path);
        if (file)
            s_file_forget (self, file);
    }
    else {
        s_file_t *file = s_file_get (self, path, NULL);
        if (file)
            s_file_ready (self, file);
    }
}

static void
s_self_handle_inotify (self_t *self)
{
    char buf[EVENT_BUFFER] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
    for (int reads = 0; reads < EVENT_READS; reads++) {
        ssize_t n = read (self->ifd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *) p;
            s_event (self, ev);
            p += sizeof *ev + ev->len;
        }
    }
}

//  Scans one queued directory: its transcripts go to the ready list (each
//  with its stored position), its subdirectories are watched and queued.
static void
s_scan_one (self_t *self)
{
    s_dir_t *dir = zlistx_detach (self->scans, NULL);
    if (!dir)
        return;
    dir->scan = NULL;
    DIR *handle = opendir (dir->path);
    if (!handle) {
        if (errno != ENOENT)
            s_error (self, "cannot list %s: %s", dir->path, strerror (errno));
        return;
    }
    MDB_txn *txn = NULL;
    if (mem_store_read_begin (self->ctx->store, &txn))
        txn = NULL;
    int depth = dir->depth;
    char *dir_path = strdup (dir->path);   //  s_dir_add may rename dir
    struct dirent *entry;
    while (dir_path && (entry = readdir (handle))) {
        const char *name = entry->d_name;
        if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
            continue;
        char path[PATH_MAX];
        if (snprintf (path, sizeof path, "%s/%s", dir_path, name) >= (int) sizeof path)
            continue;
        unsigned char type = entry->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            type = lstat (path, &st) ? DT_UNKNOWN : S_ISDIR (st.st_mode) ? DT_DIR : DT_REG;
        }
        if (type == DT_DIR) {
            if ((unsigned) depth < self->config->depth && !s_dir_add (self, path, depth + 1))
                s_error (self, "cannot watch %s: %s", path, strerror (errno));
        }
        else if ((type == DT_REG || type == DT_LNK) && s_is_transcript (name)) {
            s_file_t *file = s_file_get (self, path, txn);
            if (file)
                s_file_ready (self, file);
        }
    }
    if (txn)
        mem_store_read_end (self->ctx->store, &txn);
    closedir (handle);
    free (dir_path);
}

//  A reply from the writer: [seq][Reply].
static void
s_self_handle_writer (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->writer);
    if (!msg)
        return;
    zframe_t *id = zmsg_first (msg);
    zframe_t *body = zmsg_next (msg);
    uint64_t seq = 0;
    if (id && zframe_size (id) == sizeof seq)
        memcpy (&seq, zframe_data (id), sizeof seq);
    s_flight_t *flight = NULL;
    for (size_t i = 0; seq && i < MAX_IN_FLIGHT && !flight; i++)
        if (self->flights[i].seq == seq)
            flight = &self->flights[i];
    if (!flight) {
        mem_log_error ("watch: a reply for no request of mine");
        zmsg_destroy (&msg);
        return;
    }
    Memd__V1__Reply *reply = body && zframe_size (body) ? memd__v1__reply__unpack (
                                 NULL, zframe_size (body), zframe_data (body))
                                                        : NULL;
    zmsg_destroy (&msg);
    bool ok = reply && (!reply->status || reply->status->code == MEM_OK);
    s_file_t *file = flight->file;
    if (ok) {
        if (file) {
            file->pos = flight->pos;
            file->stored = true;
        }
        self->lines += flight->lines;
        self->skipped += flight->skipped;
        self->bytes += flight->bytes;
        if (reply->capture) {
            self->records += reply->capture->n_ids;
            for (size_t i = 0; i < reply->capture->n_duplicate; i++)
                self->duplicates += reply->capture->duplicate[i] ? 1 : 0;
        }
        if (flight->lines)
            self->last_ingest_ms = mem_now_ms ();
        if (self->write_error) {
            self->last_error[0] = 0;   //  the write works again
            self->write_error = false;
        }
        self->retry_ms = 0;
    }
    else {
        s_error (self, "a write failed: %s",
                 reply && reply->status && reply->status->message ? reply->status->message
                                                                  : "no valid reply");
        self->write_error = true;
        self->retry_ms = self->retry_ms ? self->retry_ms * 2 : RETRY_MIN_MS;
        if (self->retry_ms > RETRY_MAX_MS)
            self->retry_ms = RETRY_MAX_MS;
        self->retry_at = mem_mono_ms () + self->retry_ms;
        if (file)
            file->dirty = true;
        char *path;
        while (flight->removals && (path = zlist_pop (flight->removals))) {
            zlist_append (self->removals, path);   //  again, later (copied)
            free (path);
        }
    }
    if (reply)
        memd__v1__reply__free_unpacked (reply, NULL);
    zlist_destroy (&flight->removals);
    memset (flight, 0, sizeof *flight);
    self->n_flight--;
    self->changed = true;
    if (file) {
        file->in_flight = false;
        if (file->gone)
            s_file_forget (self, file);
        else if (file->dirty || file->more) {
            file->dirty = false;
            s_file_ready (self, file);
        }
    }
}

//  Reads files from the ready list (and sends dropped positions), within
//  the in-flight bound.
static void
s_pump (self_t *self)
{
    for (int n = 0; n < FILES_PER_TURN && self->n_flight < MAX_IN_FLIGHT && !self->retry_at;
         n++) {
        if (zlist_size (self->removals))
            s_send_removals (self);
        else {
            s_file_t *file = zlistx_detach (self->ready, NULL);
            if (!file)
                break;
            file->ready = NULL;
            s_ingest (self, file);
        }
    }
}

//  --------------------------------------------------------------------------
//  Status and the lifecycle

static void
s_snapshot (self_t *self)
{
    Memd__V1__WatchStatus st = MEMD__V1__WATCH_STATUS__INIT;
    char **dirs = calloc (self->n_roots ? self->n_roots : 1, sizeof *dirs);
    if (!dirs)
        return;
    for (size_t i = 0; i < self->n_roots; i++)
        dirs[i] = self->roots[i].path;
    st.dirs = dirs;
    st.n_dirs = self->n_roots;
    for (s_dir_t *dir = zhashx_first (self->dirs); dir; dir = zhashx_next (self->dirs))
        st.directories += dir->depth >= 0;
    st.files = zhashx_size (self->files);
    st.lines = self->lines;
    st.records = self->records;
    st.duplicates = self->duplicates;
    st.skipped_lines = self->skipped;
    st.bytes = self->bytes;
    st.pending_files = (uint32_t) (zlistx_size (self->ready) + self->n_flight);
    st.last_error = self->last_error;
    st.last_error_ms = *self->last_error ? self->last_error_ms : 0;
    st.last_ingest_ms = self->last_ingest_ms;
    zframe_t *frame = mem_codec_pack (&st.base);
    free (dirs);
    if (!frame)
        return;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, MEM_STATUS_WATCH);
    zmsg_append (msg, &frame);
    if (zmsg_send (&msg, self->events))
        zmsg_destroy (&msg);   //  best effort: the next change sends another
    self->changed = false;
    self->snapshot_ms = mem_mono_ms ();
}

//  Work in flight for the lifecycle (only while writes are out: reading a
//  file that has nothing new never wakes memd), and the status snapshot.
static void
s_tell (self_t *self)
{
    bool idle = !self->n_flight && !zlistx_size (self->ready) && !zlistx_size (self->scans)
             && !zlist_size (self->removals);
    if (self->n_flight && !self->busy_told) {
        zstr_sendx (self->busy, "BUSY", "watch", "1", NULL);
        self->busy_told = true;
    }
    else if (idle && self->busy_told) {
        zstr_sendx (self->busy, "BUSY", "watch", "0", NULL);
        self->busy_told = false;
    }
    if (self->changed && (idle || mem_mono_ms () - self->snapshot_ms >= SNAPSHOT_MS))
        s_snapshot (self);
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_self_handle_pipe (self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else
        mem_log_error ("watch: unknown command %s", command);
    zstr_free (&command);
}

//  Splits watch/dirs (':'-separated, ~/ for $HOME) into roots.
static int
s_parse_roots (self_t *self, char *err, size_t err_size)
{
    const char *spec = self->config->dirs;
    size_t count = 1;
    for (const char *p = spec; *p; p++)
        count += *p == ':';
    self->roots = calloc (count, sizeof *self->roots);
    if (!self->roots) {
        snprintf (err, err_size, "watch: out of memory");
        return -1;
    }
    const char *home = getenv ("HOME");
    for (const char *p = spec; *p;) {
        const char *end = strchr (p, ':');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        char path[PATH_MAX];
        int n;
        if (len >= 2 && p[0] == '~' && p[1] == '/')
            n = snprintf (path, sizeof path, "%s/%.*s", home ? home : "", (int) len - 2, p + 2);
        else
            n = snprintf (path, sizeof path, "%.*s", (int) len, p);
        while (n > 1 && path[n - 1] == '/')
            path[--n] = 0;
        if (n >= (int) sizeof path || (n > 0 && path[0] != '/')) {
            snprintf (err, err_size, "watch/dirs: '%.*s' is not an absolute path", (int) len, p);
            return -1;
        }
        if (n > 0)
            self->roots[self->n_roots++].path = strdup (path);
        p = end ? end + 1 : p + len;
    }
    return 0;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->writer);
    zsock_destroy (&self->busy);
    zsock_destroy (&self->events);
    if (self->ifd >= 0)
        close (self->ifd);
    zlistx_destroy (&self->ready);
    zlistx_destroy (&self->scans);
    zhashx_destroy (&self->files);
    zhashx_destroy (&self->dirs);
    zhashx_destroy (&self->agents);
    zlist_destroy (&self->removals);
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++)
        zlist_destroy (&self->flights[i].removals);
    for (size_t i = 0; i < self->n_roots; i++)
        free (self->roots[i].path);
    free (self->roots);
    free (self->buf);
    free (self);
    *self_p = NULL;
}

static void
s_free_string (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static int
s_self_start (self_t *self, char *err, size_t err_size)
{
    self->writer = zsock_new (ZMQ_PAIR);
    self->busy = zsock_new (ZMQ_PUSH);
    self->events = mem_events_new ();
    self->dirs = zhashx_new ();
    self->files = zhashx_new ();
    self->agents = zhashx_new ();
    self->ready = zlistx_new ();
    self->scans = zlistx_new ();
    self->removals = zlist_new ();
    if (!self->writer || !self->busy || !self->events || !self->dirs || !self->files
        || !self->agents || !self->ready || !self->scans || !self->removals) {
        snprintf (err, err_size, "watch: out of memory");
        return -1;
    }
    zhashx_set_destructor (self->dirs, s_dir_destroy);
    zhashx_set_destructor (self->files, s_file_destroy);
    zhashx_set_destructor (self->agents, s_free_string);
    zlist_autofree (self->removals);
    zsock_set_sndtimeo (self->writer, 0);   //  MAX_IN_FLIGHT is far below its queue
    zsock_set_sndtimeo (self->busy, 0);
    zsock_set_sndhwm (self->busy, 0);
    zsock_set_linger (self->busy, 0);
    if (zsock_connect (self->writer, MEM_INPROC_CAPTURE_WATCH)
        || zsock_connect (self->busy, MEM_INPROC_LIFECYCLE_BUSY)) {
        snprintf (err, err_size, "watch: cannot reach the writer or the lifecycle");
        return -1;
    }
    self->max_records = self->ctx->limits.max_batch < MAX_RECORDS ? self->ctx->limits.max_batch
                                                                    : MAX_RECORDS;
    if (s_parse_roots (self, err, err_size))
        return -1;
    self->ifd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    if (self->ifd < 0)
        //  Unknown is not empty: memd serves, and status says why nothing is watched.
        s_error (self, "cannot watch anything: inotify_init1: %s", strerror (errno));
    else
        for (size_t i = 0; i < self->n_roots; i++)
            s_root_watch (self, i);
    self->changed = true;
    return 0;
}

void
mem_watch_actor (zsock_t *pipe, void *args)
{
    self_t *self = calloc (1, sizeof *self);
    self->pipe = pipe;
    self->ctx = args;
    self->config = &self->ctx->watch;
    self->ifd = -1;
    zsock_signal (pipe, 0);

    char *command = zstr_recv (pipe);
    char err[512] = "watch: no START";
    bool started
        = command && streq (command, "START") && s_self_start (self, err, sizeof err) == 0;
    zstr_free (&command);
    zstr_send (pipe, started ? "OK" : err);
    while (started && !self->terminated) {
        int64_t now = mem_mono_ms ();
        if (self->retry_at && now >= self->retry_at)
            self->retry_at = 0;
        bool can_send = self->n_flight < MAX_IN_FLIGHT && !self->retry_at;
        bool work = zlistx_size (self->scans)
                 || (can_send && (zlistx_size (self->ready) || zlist_size (self->removals)));
        long timeout = work ? 0 : self->retry_at ? (long) (self->retry_at - now) : -1;
        zmq_pollitem_t items[] = {{zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0},
                                  {zsock_resolve (self->writer), 0, ZMQ_POLLIN, 0},
                                  {NULL, self->ifd, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, self->ifd >= 0 ? 3 : 2, timeout) < 0) {
            if (zmq_errno () == EINTR)
                continue;
            break;   //  the context is going away
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_self_handle_pipe (self);
        if (self->terminated)
            break;
        while (zsock_events (self->writer) & ZMQ_POLLIN)
            s_self_handle_writer (self);
        if (self->ifd >= 0 && (items[2].revents & ZMQ_POLLIN))
            s_self_handle_inotify (self);
        s_scan_one (self);
        s_pump (self);
        s_tell (self);
    }
    s_self_destroy (&self);
}
