/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ngx_http_kiovec_module: nginx serves static files through kiovec containers.
 *
 * For a location with `kiovec on;`, a header filter swaps the connection's send chain
 * (nginx's ngx_linux_sendfile_chain: TCP_CORK + writev + sendfile) for
 * ngx_http_kiovec_send_chain. That send chain handles the chains a static file response
 * makes, the response header in memory followed by one file buffer: it looks up (or builds)
 * a container holding the file range by page-cache reference, in a cache kept per worker and
 * keyed by the file's identity and version (device, inode, size, mtime, ctime), and sends the
 * header bytes and the body in one KIOVEC_IOC_TRANSMIT (KIOVEC_TX_HEADER + KIOVEC_TX_RANGE).
 * It keeps nginx's send-chain contract exactly: at most `limit` bytes, partial sends move the
 * chain's pos/file_pos (ngx_chain_update_sent), EAGAIN clears wev->ready and returns the rest
 * of the chain, errors give NGX_CHAIN_ERROR.
 *
 * Every chain it does not handle, and every case where kiovec cannot help (no /dev/kiovec, a
 * module without KIOVEC_FEAT_TX_HEADER/TX_RANGE, a file changed in the last seconds, a range
 * larger than the cache, a container the memory budget refuses), goes to nginx's own send
 * chain unchanged: kiovec never fails a request that nginx would have served.
 *
 * Directives:
 *   kiovec on|off;              http, server, location (default off)
 *   kiovec_cache_size SIZE;     http: bytes of containers per worker (default 16m)
 *   kiovec_status;              location: the worker's counters as text/plain
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <linux/kiovec.h>


#define NGX_HTTP_KIOVEC_DEVICE     "/dev/kiovec"
#define NGX_HTTP_KIOVEC_FEATURES   (KIOVEC_FEAT_ADD_FILE | KIOVEC_FEAT_TRANSMIT     \
                                    | KIOVEC_FEAT_TX_HEADER | KIOVEC_FEAT_TX_RANGE)
/* As ngx_linux_sendfile_chain: one call sends at most 2G-1 minus a page. */
#define NGX_HTTP_KIOVEC_MAXSIZE    2147483647L
/*
 * A file whose ctime is this recent is served by nginx's own path and not cached. Kernel
 * timestamps are coarse (a jiffy), so a file truncated and rewritten within one tick of the
 * previous change could keep its size, mtime and ctime; the key would then name a stale
 * container. A container is built only once the file has been still for this long, so any
 * later change gives a ctime the key has not seen.
 */
#define NGX_HTTP_KIOVEC_SETTLE     2
/* Memory buffers of one header gathered into a single kiovec_iovec. */
#define NGX_HTTP_KIOVEC_MAX_BUFS   64


typedef struct {
    ngx_flag_t                 enable;
} ngx_http_kiovec_loc_conf_t;


typedef struct {
    size_t                     cache_size;
    ngx_flag_t                 used;
    ngx_shm_zone_t            *zone;        /* the counters of all workers */
} ngx_http_kiovec_main_conf_t;


/* One file version: the containers of its ranges hang off it. */
typedef struct {
    ngx_rbtree_node_t          node;        /* key: st_ino; then dev */
    dev_t                      dev;
    ino_t                      ino;
    off_t                      size;
    struct timespec            mtime;
    struct timespec            ctime;
    ngx_queue_t                containers;
} ngx_http_kiovec_file_t;


/* One container: /dev/kiovec holding the file range [start, end) by page reference. */
typedef struct {
    ngx_queue_t                file_link;
    ngx_queue_t                lru_link;    /* most recently used first */
    ngx_http_kiovec_file_t    *file;
    off_t                      start;
    off_t                      end;
    size_t                     charge;      /* pages spanned, in bytes */
    ngx_fd_t                   fd;
} ngx_http_kiovec_container_t;


/* What the module counts, per worker; kiovec_status adds up all workers. */
enum {
    NGX_HTTP_KIOVEC_RESPONSES = 0,      /* file bodies completed through kiovec */
    NGX_HTTP_KIOVEC_TRANSMITS,          /* KIOVEC_IOC_TRANSMIT calls */
    NGX_HTTP_KIOVEC_BYTES,              /* header + body bytes they sent */
    NGX_HTTP_KIOVEC_EAGAIN,
    NGX_HTTP_KIOVEC_ERRORS,             /* NGX_CHAIN_ERROR returned */
    NGX_HTTP_KIOVEC_HITS,
    NGX_HTTP_KIOVEC_BUILDS,
    NGX_HTTP_KIOVEC_EVICTIONS,          /* dropped for room */
    NGX_HTTP_KIOVEC_STALE,              /* dropped: the file changed */
    NGX_HTTP_KIOVEC_FALLBACK_CHAIN,     /* not header + one file buffer */
    NGX_HTTP_KIOVEC_FALLBACK_FRESH,     /* file changed in the last seconds */
    NGX_HTTP_KIOVEC_FALLBACK_SIZE,      /* range larger than the cache */
    NGX_HTTP_KIOVEC_FALLBACK_BUILD,     /* container refused (ENOMEM, E2BIG...) */
    NGX_HTTP_KIOVEC_FALLBACK_OTHER,     /* fstat, thread/directio, limits */
    NGX_HTTP_KIOVEC_CONTAINERS,         /* gauge: containers held */
    NGX_HTTP_KIOVEC_CACHE_BYTES,        /* gauge: bytes they span */
    NGX_HTTP_KIOVEC_NCOUNTERS
};

static const char  *ngx_http_kiovec_counter_names[] = {
    "responses", "transmits", "bytes", "eagain", "errors", "hits", "builds",
    "evictions", "stale", "fallback_chain", "fallback_fresh", "fallback_size",
    "fallback_build", "fallback_other", "cache_containers", "cache_bytes"
};


typedef struct {
    ngx_atomic_t               c[NGX_HTTP_KIOVEC_NCOUNTERS];
} ngx_http_kiovec_stats_t;

/*
 * Slots of counters in shared memory, one per worker number (workers past this share a
 * slot, atomically): kiovec_status shows the sum over all workers. The zone outlives
 * reloads, so the counters are totals since nginx started.
 */
#define NGX_HTTP_KIOVEC_SLOTS      64
#define NGX_HTTP_KIOVEC_ZONE_SIZE  (64 * 1024)


/* Everything a worker keeps; each worker process has its own copy. */
typedef struct {
    ngx_uint_t                 available;
    uint64_t                   features;
    u_char                     reason[160];
    u_char                    *reason_end;

    ngx_rbtree_t               files;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                lru;
    size_t                     bytes;
    size_t                     max_bytes;
    ngx_uint_t                 count;
    ngx_uint_t                 max_count;
    uint64_t                   dev_max_bytes;
    uint64_t                   dev_max_segments;

    u_char                    *scratch;     /* KIOVEC_MAX_HEADER bytes, on demand */
    ngx_atomic_uint_t          local[NGX_HTTP_KIOVEC_NCOUNTERS];  /* this worker's */
    ngx_http_kiovec_stats_t   *shared;      /* this worker's slot, or NULL */
} ngx_http_kiovec_worker_t;


static ngx_inline void
ngx_http_kiovec_count(ngx_http_kiovec_worker_t *w, ngx_uint_t i, ngx_atomic_int_t n)
{
    w->local[i] += n;

    if (w->shared) {
        (void) ngx_atomic_fetch_add(&w->shared->c[i], n);
    }
}


static ngx_int_t ngx_http_kiovec_init(ngx_conf_t *cf);
static void *ngx_http_kiovec_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kiovec_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_kiovec_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kiovec_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_kiovec_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_kiovec_init_process(ngx_cycle_t *cycle);
static void ngx_http_kiovec_exit_process(ngx_cycle_t *cycle);
static ngx_chain_t *ngx_http_kiovec_send_chain(ngx_connection_t *c,
    ngx_chain_t *in, off_t limit);


static ngx_command_t  ngx_http_kiovec_commands[] = {

    { ngx_string("kiovec"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kiovec_loc_conf_t, enable),
      NULL },

    { ngx_string("kiovec_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kiovec_main_conf_t, cache_size),
      NULL },

    { ngx_string("kiovec_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kiovec_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kiovec_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_kiovec_init,                  /* postconfiguration */

    ngx_http_kiovec_create_main_conf,      /* create main configuration */
    ngx_http_kiovec_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kiovec_create_loc_conf,       /* create location configuration */
    ngx_http_kiovec_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_kiovec_module = {
    NGX_MODULE_V1,
    &ngx_http_kiovec_module_ctx,           /* module context */
    ngx_http_kiovec_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kiovec_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kiovec_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;

static ngx_http_kiovec_worker_t  ngx_http_kiovec_worker;


/* Configuration. */

static void *
ngx_http_kiovec_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kiovec_main_conf_t  *kmcf;

    kmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kiovec_main_conf_t));
    if (kmcf == NULL) {
        return NULL;
    }

    kmcf->cache_size = NGX_CONF_UNSET_SIZE;

    return kmcf;
}


static char *
ngx_http_kiovec_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kiovec_main_conf_t *kmcf = conf;

    ngx_conf_init_size_value(kmcf->cache_size, 16 * 1024 * 1024);

    return NGX_CONF_OK;
}


static void *
ngx_http_kiovec_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kiovec_loc_conf_t  *klcf;

    klcf = ngx_palloc(cf->pool, sizeof(ngx_http_kiovec_loc_conf_t));
    if (klcf == NULL) {
        return NULL;
    }

    klcf->enable = NGX_CONF_UNSET;

    return klcf;
}


static char *
ngx_http_kiovec_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kiovec_loc_conf_t *prev = parent;
    ngx_http_kiovec_loc_conf_t *conf = child;

    ngx_http_kiovec_main_conf_t  *kmcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->enable) {
        /* Workers open /dev/kiovec only if some location uses it. */
        kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kiovec_module);
        kmcf->used = 1;
    }

    return NGX_CONF_OK;
}


/* The header filter: choose the connection's send chain for this response. */

static ngx_int_t
ngx_http_kiovec_header_filter(ngx_http_request_t *r)
{
    ngx_connection_t            *c;
    ngx_http_kiovec_loc_conf_t  *klcf;

    c = r->connection;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kiovec_module);

    /*
     * Only a plain TCP connection has nginx's Linux send chain: TLS, HTTP/2 streams and
     * anything another module set up keep their own.
     */
    if (klcf->enable && ngx_http_kiovec_worker.available) {
        if (c->send_chain == ngx_linux_sendfile_chain) {
            c->send_chain = ngx_http_kiovec_send_chain;
        }

    } else if (c->send_chain == ngx_http_kiovec_send_chain) {
        /* A keep-alive connection moving to a location without kiovec. */
        c->send_chain = ngx_linux_sendfile_chain;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_kiovec_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        /* A reload: the counters go on. */
        shm_zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        shm_zone->data = shpool->data;
        return NGX_OK;
    }

    shm_zone->data = ngx_slab_calloc(shpool, sizeof(ngx_http_kiovec_stats_t)
                                             * NGX_HTTP_KIOVEC_SLOTS);
    if (shm_zone->data == NULL) {
        return NGX_ERROR;
    }

    shpool->data = shm_zone->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kiovec_init(ngx_conf_t *cf)
{
    ngx_str_t                     name = ngx_string("kiovec_status");
    ngx_http_kiovec_main_conf_t  *kmcf;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_kiovec_header_filter;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kiovec_module);

    if (kmcf->used) {
        kmcf->zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_KIOVEC_ZONE_SIZE,
                                           &ngx_http_kiovec_module);
        if (kmcf->zone == NULL) {
            return NGX_ERROR;
        }

        kmcf->zone->init = ngx_http_kiovec_init_zone;
    }

    return NGX_OK;
}


/* The per-worker container cache. */

static void
ngx_http_kiovec_rbtree_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t       **p;
    ngx_http_kiovec_file_t   *f, *t;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            f = (ngx_http_kiovec_file_t *) node;
            t = (ngx_http_kiovec_file_t *) temp;
            p = (f->dev < t->dev) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_kiovec_file_t *
ngx_http_kiovec_file_lookup(dev_t dev, ino_t ino)
{
    ngx_rbtree_node_t       *node, *sentinel;
    ngx_http_kiovec_file_t  *f;

    node = ngx_http_kiovec_worker.files.root;
    sentinel = ngx_http_kiovec_worker.files.sentinel;

    while (node != sentinel) {

        if ((ngx_rbtree_key_t) ino != node->key) {
            node = ((ngx_rbtree_key_t) ino < node->key) ? node->left : node->right;
            continue;
        }

        f = (ngx_http_kiovec_file_t *) node;

        if (dev == f->dev) {
            return f;
        }

        node = (dev < f->dev) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_kiovec_drop(ngx_http_kiovec_container_t *k, ngx_log_t *log)
{
    ngx_http_kiovec_worker_t  *w = &ngx_http_kiovec_worker;
    ngx_http_kiovec_file_t    *f = k->file;

    if (close(k->fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno, "kiovec: close() failed");
    }

    ngx_queue_remove(&k->file_link);
    ngx_queue_remove(&k->lru_link);
    w->bytes -= k->charge;
    w->count--;
    ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_CONTAINERS, -1);
    ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_CACHE_BYTES, -(ngx_atomic_int_t) k->charge);
    ngx_free(k);

    if (ngx_queue_empty(&f->containers)) {
        ngx_rbtree_delete(&w->files, &f->node);
        ngx_free(f);
    }
}


static void
ngx_http_kiovec_drop_file(ngx_http_kiovec_file_t *f, ngx_log_t *log)
{
    ngx_uint_t    last;
    ngx_queue_t  *q;

    /* Dropping the last container frees f: look before leaping. */
    do {
        q = ngx_queue_head(&f->containers);
        last = (ngx_queue_next(q) == ngx_queue_sentinel(&f->containers));
        ngx_http_kiovec_drop(ngx_queue_data(q, ngx_http_kiovec_container_t, file_link),
                             log);
    } while (!last);
}


/* Drops least recently used containers until `need` more bytes and one more fd fit. */
static void
ngx_http_kiovec_make_room(size_t need, ngx_log_t *log)
{
    ngx_queue_t               *q;
    ngx_http_kiovec_worker_t  *w = &ngx_http_kiovec_worker;

    while (!ngx_queue_empty(&w->lru)
           && (w->bytes + need > w->max_bytes || w->count + 1 > w->max_count))
    {
        q = ngx_queue_last(&w->lru);
        ngx_http_kiovec_drop(ngx_queue_data(q, ngx_http_kiovec_container_t,
                                            lru_link), log);
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_EVICTIONS, 1);
    }
}


/* A container holding [start, end) of the open file fd; NGX_ERROR with errno set. */
static ngx_fd_t
ngx_http_kiovec_build(ngx_fd_t file, off_t start, off_t end)
{
    int                     err;
    ngx_fd_t                fd;
    struct kiovec_add_file  af;

    fd = open(NGX_HTTP_KIOVEC_DEVICE, O_RDWR | O_CLOEXEC);
    if (fd == -1) {
        return NGX_INVALID_FILE;
    }

    ngx_memzero(&af, sizeof(af));
    af.fd = file;
    af.offset = start;
    af.len = end - start;

    if (ioctl(fd, KIOVEC_IOC_ADD_FILE, &af) == -1) {
        err = ngx_errno;
        close(fd);
        ngx_set_errno(err);
        return NGX_INVALID_FILE;
    }

    return fd;
}


/*
 * The container for the file buffer b's range [file_pos, file_last), from the cache or
 * built; NULL when kiovec does not serve it (a fallback counter says why).
 */
static ngx_http_kiovec_container_t *
ngx_http_kiovec_get(ngx_connection_t *c, ngx_buf_t *b)
{
    off_t                         start, end, ps;
    size_t                        charge;
    ngx_err_t                     err;
    ngx_fd_t                      fd;
    ngx_uint_t                    tries;
    ngx_queue_t                  *q, *next;
    ngx_file_info_t               st;
    ngx_http_kiovec_file_t       *f;
    ngx_http_kiovec_worker_t     *w = &ngx_http_kiovec_worker;
    ngx_http_kiovec_container_t  *k;

    start = b->file_pos;
    end = b->file_last;

    if (ngx_fd_info(b->file->fd, &st) == NGX_FILE_ERROR
        || !S_ISREG(st.st_mode) || end > st.st_size)
    {
        /* nginx's own path reports a truncated file as it always does. */
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_OTHER, 1);
        return NULL;
    }

    f = ngx_http_kiovec_file_lookup(st.st_dev, st.st_ino);

    if (f && (f->size != st.st_size
              || f->mtime.tv_sec != st.st_mtim.tv_sec
              || f->mtime.tv_nsec != st.st_mtim.tv_nsec
              || f->ctime.tv_sec != st.st_ctim.tv_sec
              || f->ctime.tv_nsec != st.st_ctim.tv_nsec))
    {
        /* A new version: the old containers may hold pages the file no longer has. */
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_STALE, 1);
        ngx_http_kiovec_drop_file(f, c->log);
        f = NULL;
    }

    if (f) {
        for (q = ngx_queue_head(&f->containers);
             q != ngx_queue_sentinel(&f->containers);
             q = ngx_queue_next(q))
        {
            k = ngx_queue_data(q, ngx_http_kiovec_container_t, file_link);

            if (k->start <= start && end <= k->end) {
                ngx_queue_remove(&k->lru_link);
                ngx_queue_insert_head(&w->lru, &k->lru_link);
                ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_HITS, 1);
                return k;
            }
        }
    }

    if (ngx_time() - st.st_ctim.tv_sec < NGX_HTTP_KIOVEC_SETTLE) {
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_FRESH, 1);
        return NULL;
    }

    ps = ngx_pagesize;
    charge = (size_t) (((end + ps - 1) / ps - start / ps) * ps);

    if (charge > w->max_bytes
        || (uint64_t) (end - start) > w->dev_max_bytes
        || (uint64_t) (charge / ps) > w->dev_max_segments)
    {
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_SIZE, 1);
        return NULL;
    }

    if (f) {
        /* Ranges of this file inside the new one are no longer needed. */
        for (q = ngx_queue_head(&f->containers);
             q != ngx_queue_sentinel(&f->containers);
             q = next)
        {
            next = ngx_queue_next(q);
            k = ngx_queue_data(q, ngx_http_kiovec_container_t, file_link);

            if (start <= k->start && k->end <= end) {
                if (next == ngx_queue_sentinel(&f->containers)
                    && ngx_queue_head(&f->containers) == q)
                {
                    /* The last one: dropping it frees f. */
                    ngx_http_kiovec_drop(k, c->log);
                    f = NULL;
                    break;
                }
                ngx_http_kiovec_drop(k, c->log);
            }
        }
    }

    for (tries = 0; /* void */; tries++) {
        ngx_http_kiovec_make_room(charge, c->log);

        fd = ngx_http_kiovec_build(b->file->fd, start, end);
        if (fd != NGX_INVALID_FILE) {
            break;
        }

        err = ngx_errno;

        /*
         * Past the locked-memory limit (shared by all workers of the user) or out of fds:
         * give back what this worker holds and try once more.
         */
        if ((err == NGX_ENOMEM || err == NGX_EMFILE || err == NGX_ENFILE)
            && tries == 0 && !ngx_queue_empty(&w->lru))
        {
            while (!ngx_queue_empty(&w->lru)) {
                q = ngx_queue_last(&w->lru);
                ngx_http_kiovec_drop(ngx_queue_data(q, ngx_http_kiovec_container_t,
                                                    lru_link), c->log);
                ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_EVICTIONS, 1);
            }

            continue;
        }

        ngx_log_error(NGX_LOG_INFO, c->log, err,
                      "kiovec: no container for \"%s\" %O-%O, using sendfile",
                      b->file->name.data, start, end);
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_BUILD, 1);
        return NULL;
    }

    /* Making room may have freed the file's entry. */
    f = ngx_http_kiovec_file_lookup(st.st_dev, st.st_ino);

    if (f == NULL) {
        f = ngx_alloc(sizeof(ngx_http_kiovec_file_t), c->log);
        if (f == NULL) {
            close(fd);
            ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_OTHER, 1);
            return NULL;
        }

        f->node.key = (ngx_rbtree_key_t) st.st_ino;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->size = st.st_size;
        f->mtime = st.st_mtim;
        f->ctime = st.st_ctim;
        ngx_queue_init(&f->containers);
        ngx_rbtree_insert(&w->files, &f->node);
    }

    k = ngx_alloc(sizeof(ngx_http_kiovec_container_t), c->log);
    if (k == NULL) {
        close(fd);
        if (ngx_queue_empty(&f->containers)) {
            ngx_rbtree_delete(&w->files, &f->node);
            ngx_free(f);
        }
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_OTHER, 1);
        return NULL;
    }

    k->file = f;
    k->start = start;
    k->end = end;
    k->charge = charge;
    k->fd = fd;
    ngx_queue_insert_head(&f->containers, &k->file_link);
    ngx_queue_insert_head(&w->lru, &k->lru_link);
    w->bytes += charge;
    w->count++;
    ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_CONTAINERS, 1);
    ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_CACHE_BYTES, (ngx_atomic_int_t) charge);
    ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_BUILDS, 1);

    return k;
}


/* The send chain. */

typedef struct {
    ngx_buf_t                 *file;        /* the one file buffer */
    ngx_buf_t                 *mem;         /* the memory buffer, if only one */
    size_t                     header;      /* memory bytes before the file buffer */
    ngx_uint_t                 nmem;
} ngx_http_kiovec_shape_t;


/*
 * NGX_OK if the chain is what kiovec sends: memory buffers (the response header, or what is
 * left of it), then one file buffer, then nothing but special buffers.
 */
static ngx_int_t
ngx_http_kiovec_shape(ngx_chain_t *in, ngx_http_kiovec_shape_t *s)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_memzero(s, sizeof(ngx_http_kiovec_shape_t));

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ngx_buf_special(b)) {
            continue;
        }

        if (b->in_file) {
            if (s->file || ngx_buf_in_memory(b) || b->file_pos >= b->file_last) {
                return NGX_DECLINED;
            }
            s->file = b;
            continue;
        }

        if (!ngx_buf_in_memory(b)) {
            return NGX_DECLINED;
        }

        if (b->pos == b->last) {
            continue;
        }

        if (s->file || s->nmem == NGX_HTTP_KIOVEC_MAX_BUFS) {
            return NGX_DECLINED;
        }

        s->mem = b;
        s->nmem++;
        s->header += b->last - b->pos;
    }

    return s->file ? NGX_OK : NGX_DECLINED;
}


/* The memory bytes before the file buffer as one contiguous range (copied if several). */
static ngx_int_t
ngx_http_kiovec_header(ngx_chain_t *in, ngx_http_kiovec_shape_t *s,
    struct kiovec_iovec *iov, ngx_log_t *log)
{
    u_char                    *p;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_http_kiovec_worker_t  *w = &ngx_http_kiovec_worker;

    iov->len = s->header;

    if (s->nmem == 1) {
        iov->base = (uintptr_t) s->mem->pos;
        return NGX_OK;
    }

    if (w->scratch == NULL) {
        w->scratch = ngx_alloc(KIOVEC_MAX_HEADER, log);
        if (w->scratch == NULL) {
            return NGX_ERROR;
        }
    }

    p = w->scratch;

    for (cl = in; cl && cl->buf != s->file; cl = cl->next) {
        b = cl->buf;
        if (!ngx_buf_special(b)) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    iov->base = (uintptr_t) w->scratch;

    return NGX_OK;
}


/*
 * kiovec will not send this file buffer: nginx's own send chain sends the rest of the
 * response. The connection keeps nginx's send chain until the next response's header
 * filter, so that a response is not split between the two (nor a container built for the
 * tail of a file that was refused whole).
 */
static ngx_chain_t *
ngx_http_kiovec_decline(ngx_connection_t *c, ngx_chain_t *in, off_t limit)
{
    c->send_chain = ngx_linux_sendfile_chain;

    return ngx_linux_sendfile_chain(c, in, limit);
}


static ngx_chain_t *
ngx_http_kiovec_send_chain(ngx_connection_t *c, ngx_chain_t *in, off_t limit)
{
    int                           n;
    off_t                         send, prev_send, avail, body;
    ngx_err_t                     err;
    ngx_event_t                  *wev;
    struct kiovec_range           range;
    struct kiovec_iovec           hdr;
    struct kiovec_transmit        tx;
    ngx_http_kiovec_shape_t       s;
    ngx_http_kiovec_worker_t     *w = &ngx_http_kiovec_worker;
    ngx_http_kiovec_container_t  *k;

    wev = c->write;

    if (!wev->ready) {
        return in;
    }

    if (ngx_http_kiovec_shape(in, &s) != NGX_OK) {
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_CHAIN, 1);
        return ngx_linux_sendfile_chain(c, in, limit);
    }

    if (s.file->file->thread_handler || s.file->file->directio
        || s.header > KIOVEC_MAX_HEADER)
    {
        /* aio threads and directio stay nginx's; so do huge headers. */
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_OTHER, 1);
        return ngx_http_kiovec_decline(c, in, limit);
    }

    k = ngx_http_kiovec_get(c, s.file);
    if (k == NULL) {
        return ngx_http_kiovec_decline(c, in, limit);
    }

    if (limit == 0 || limit > (off_t) (NGX_HTTP_KIOVEC_MAXSIZE - ngx_pagesize)) {
        limit = NGX_HTTP_KIOVEC_MAXSIZE - ngx_pagesize;
    }

    send = 0;

    for ( ;; ) {
        prev_send = send;
        avail = limit - send;

        if (ngx_http_kiovec_shape(in, &s) != NGX_OK
            || s.file->file_pos < k->start || s.file->file_last > k->end
            || (off_t) s.header >= avail)
        {
            /*
             * Only the header fits under the limit (limit_rate): nginx sends that part.
             * The chain is exactly as far as it was sent, so the handover is seamless.
             */
            ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_OTHER, 1);
            return ngx_linux_sendfile_chain(c, in, avail);
        }

        body = ngx_min(s.file->file_last - s.file->file_pos,
                       avail - (off_t) s.header);

        ngx_memzero(&tx, sizeof(tx));
        tx.fd = c->fd;
        tx.flags = KIOVEC_TX_DONTWAIT | KIOVEC_TX_NOSIGNAL | KIOVEC_TX_RANGE;
        tx.offset = 0;

        /* What is left of the header goes first; an empty one is not sent at all. */
        if (s.header) {
            if (ngx_http_kiovec_header(in, &s, &hdr, c->log) != NGX_OK) {
                ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_OTHER, 1);
                return ngx_linux_sendfile_chain(c, in, avail);
            }
            tx.flags |= KIOVEC_TX_HEADER;
            tx.hdr = (uintptr_t) &hdr;
        }

        range.start = s.file->file_pos - k->start;
        range.len = body;
        tx.range = (uintptr_t) &range;

        send += s.header + body;

        n = ioctl(k->fd, KIOVEC_IOC_TRANSMIT, &tx);
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_TRANSMITS, 1);

        if (n == -1) {
            err = ngx_errno;

            switch (err) {

            case NGX_EAGAIN:
                ngx_log_debug0(NGX_LOG_DEBUG_EVENT, c->log, err,
                               "kiovec transmit is not ready");
                ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_EAGAIN, 1);
                wev->ready = 0;
                return in;

            case NGX_EINTR:
                send = prev_send;
                continue;

            case ENODATA:
                /*
                 * The container no longer has these pages (the file shrank or was
                 * replaced under it): nothing was sent, so nginx's own path takes the
                 * rest from the file as it is now, and reports a truncation as it
                 * always does.
                 */
                ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_STALE, 1);
                ngx_http_kiovec_drop(k, c->log);
                return ngx_http_kiovec_decline(c, in, avail);

            case EINVAL:
            case EFAULT:
            case EBADF:
            case ENOTTY:
            case ENOTSOCK:
            case EOPNOTSUPP:
                /* kiovec refused the call itself (nothing was sent): nginx sends it. */
                ngx_log_error(NGX_LOG_ALERT, c->log, err,
                              "kiovec: ioctl(KIOVEC_IOC_TRANSMIT) refused, "
                              "using sendfile");
                ngx_http_kiovec_drop(k, c->log);
                ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_FALLBACK_OTHER, 1);
                return ngx_http_kiovec_decline(c, in, avail);

            default:
                wev->error = 1;
                ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_ERRORS, 1);
                ngx_connection_error(c, err, "ioctl(KIOVEC_IOC_TRANSMIT) failed");
                return NGX_CHAIN_ERROR;
            }
        }

        if (n == 0) {
            /* Asked for bytes inside the container and got none: same as ENODATA. */
            ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_STALE, 1);
            ngx_http_kiovec_drop(k, c->log);
            return ngx_http_kiovec_decline(c, in, avail);
        }

        ngx_log_debug4(NGX_LOG_DEBUG_EVENT, c->log, 0,
                       "kiovec transmit: %d of %uz+%O @%O",
                       n, s.header, body, s.file->file_pos);

        c->sent += n;
        ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_BYTES, n);

        in = ngx_chain_update_sent(in, n);

        if (s.file->file_pos == s.file->file_last) {
            ngx_http_kiovec_count(w, NGX_HTTP_KIOVEC_RESPONSES, 1);
        }

        if (send - prev_send != n) {
            /*
             * A short send: as nginx's sendfile chain does, go on until an explicit EAGAIN,
             * the only thing that makes an edge-triggered epoll report the socket again.
             */
            send = prev_send + n;
        }

        if (send >= limit || in == NULL) {
            return in;
        }
    }
}


/* Per worker: is kiovec usable here, and the cache's bounds. */

static ngx_int_t
ngx_http_kiovec_init_process(ngx_cycle_t *cycle)
{
    ngx_fd_t                      fd;
    struct rlimit                 rl;
    struct kiovec_info            info;
    ngx_http_kiovec_worker_t     *w = &ngx_http_kiovec_worker;
    ngx_http_kiovec_main_conf_t  *kmcf;

    ngx_memzero(w, sizeof(ngx_http_kiovec_worker_t));
    ngx_rbtree_init(&w->files, &w->sentinel, ngx_http_kiovec_rbtree_insert);
    ngx_queue_init(&w->lru);
    w->reason_end = w->reason;

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE) {
        /* The cache manager and loader send no responses. */
        return NGX_OK;
    }

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kiovec_module);
    if (kmcf == NULL || !kmcf->used) {
        w->reason_end = ngx_slprintf(w->reason, w->reason + sizeof(w->reason),
                                     "no location has kiovec on");
        return NGX_OK;
    }

    w->max_bytes = kmcf->cache_size;

    if (kmcf->zone && kmcf->zone->data) {
        w->shared = (ngx_http_kiovec_stats_t *) kmcf->zone->data
                    + ngx_worker % NGX_HTTP_KIOVEC_SLOTS;
    }

    /* Each container is an open fd: leave most of the worker's fds to connections. */
    w->max_count = 512;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        w->max_count = ngx_max(rl.rlim_cur / 4, 16);
    }

    fd = open(NGX_HTTP_KIOVEC_DEVICE, O_RDWR | O_CLOEXEC);
    if (fd == -1) {
        w->reason_end = ngx_slprintf(w->reason, w->reason + sizeof(w->reason),
                                     "open(" NGX_HTTP_KIOVEC_DEVICE ") failed (%d: %s)",
                                     ngx_errno, strerror(ngx_errno));
        goto unavailable;
    }

    ngx_memzero(&info, sizeof(info));
    if (ioctl(fd, KIOVEC_IOC_INFO, &info) == -1) {
        w->reason_end = ngx_slprintf(w->reason, w->reason + sizeof(w->reason),
                                     "ioctl(KIOVEC_IOC_INFO) failed (%d: %s)",
                                     ngx_errno, strerror(ngx_errno));
        close(fd);
        goto unavailable;
    }

    close(fd);
    w->features = info.features;

    if ((info.features & NGX_HTTP_KIOVEC_FEATURES) != NGX_HTTP_KIOVEC_FEATURES) {
        w->reason_end = ngx_slprintf(w->reason, w->reason + sizeof(w->reason),
                                     "the kiovec kernel module (ABI %uD, features "
                                     "0x%xL) lacks KIOVEC_TX_HEADER or KIOVEC_TX_RANGE",
                                     info.abi_version, info.features);
        goto unavailable;
    }

    w->dev_max_bytes = info.max_bytes;
    w->dev_max_segments = info.max_segments;
    w->available = 1;
    w->reason_end = ngx_slprintf(w->reason, w->reason + sizeof(w->reason), "ok");

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "kiovec: serving through " NGX_HTTP_KIOVEC_DEVICE " (features 0x%xL, "
                  "cache %uz bytes, %ui containers)",
                  w->features, w->max_bytes, w->max_count);
    return NGX_OK;

unavailable:

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "kiovec: not used, serving with sendfile: %*s",
                  w->reason_end - w->reason, w->reason);
    return NGX_OK;
}


static void
ngx_http_kiovec_exit_process(ngx_cycle_t *cycle)
{
    u_char                    *p, *last;
    u_char                     line[NGX_HTTP_KIOVEC_NCOUNTERS * 40];
    ngx_uint_t                 i;
    ngx_queue_t               *q;
    ngx_http_kiovec_worker_t  *w = &ngx_http_kiovec_worker;

    if (!w->available) {
        return;
    }

    /* Drop the containers first, so that the gauges read zero when the worker is gone. */
    while (!ngx_queue_empty(&w->lru)) {
        q = ngx_queue_last(&w->lru);
        ngx_http_kiovec_drop(ngx_queue_data(q, ngx_http_kiovec_container_t, lru_link),
                             cycle->log);
    }

    p = line;
    last = line + sizeof(line);

    for (i = 0; i < NGX_HTTP_KIOVEC_CONTAINERS; i++) {
        p = ngx_slprintf(p, last, "%s%s %uA", i ? ", " : "",
                         ngx_http_kiovec_counter_names[i], w->local[i]);
    }

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0, "kiovec: worker exits: %*s",
                  p - line, line);

    ngx_free(w->scratch);
    w->scratch = NULL;
}


/* kiovec_status: this worker's counters, one "name value" line each. */

static ngx_int_t
ngx_http_kiovec_status_handler(ngx_http_request_t *r)
{
    size_t                        len;
    ngx_int_t                     rc;
    ngx_buf_t                    *b;
    ngx_uint_t                    i, j;
    ngx_chain_t                   out;
    ngx_atomic_uint_t             sum;
    ngx_http_kiovec_stats_t      *slots;
    ngx_http_kiovec_worker_t     *w = &ngx_http_kiovec_worker;
    ngx_http_kiovec_main_conf_t  *kmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    len = 256 + (w->reason_end - w->reason) + NGX_HTTP_KIOVEC_NCOUNTERS * 48;

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* This worker's view, then the counters of all workers added up. */
    b->last = ngx_slprintf(b->last, b->end,
                           "pid %P\n"
                           "available %ui\n"
                           "reason %*s\n"
                           "features 0x%xL\n"
                           "cache_size %uz\n"
                           "cache_max_containers %ui\n",
                           ngx_pid, w->available, w->reason_end - w->reason, w->reason,
                           w->features, w->max_bytes, w->max_count);

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kiovec_module);
    slots = (kmcf->zone && kmcf->zone->data) ? kmcf->zone->data : NULL;

    for (i = 0; i < NGX_HTTP_KIOVEC_NCOUNTERS; i++) {
        if (slots) {
            sum = 0;
            for (j = 0; j < NGX_HTTP_KIOVEC_SLOTS; j++) {
                sum += slots[j].c[i];
            }

        } else {
            sum = w->local[i];
        }

        b->last = ngx_slprintf(b->last, b->end, "%s %uA\n",
                               ngx_http_kiovec_counter_names[i], sum);
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static char *
ngx_http_kiovec_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kiovec_status_handler;

    return NGX_CONF_OK;
}
