/*===- runtime/cnnc_rt_params.c - parameters by name, files, checksums ----===*
 *
 * get/set_param, save/load_params and the --weights=external loader, over
 * the format of cnnc_weights_format.h.
 *
 * Saving writes PATH.tmp, fsyncs it, renames it over PATH and fsyncs the
 * directory: PATH holds the old file or the new one, never a mix. Loading
 * checks the checksum and every record against the model before it touches
 * a parameter.
 *===----------------------------------------------------------------------===*/
#define _GNU_SOURCE
#include "cnnc_rt_internal.h"
#include "cnnc_weights_format.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*===--------------------------------------------------------------------===*
 * CRC-32 (IEEE 802.3, reflected, as zlib)
 *===--------------------------------------------------------------------===*/

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

uint32_t cnnc_wf_crc32(uint32_t crc, const void *data, size_t bytes) {
  pthread_once(&crc_once, crc_init);
  const uint8_t *p = data;
  uint32_t c = crc ^ 0xFFFFFFFFu;
  for (size_t i = 0; i < bytes; ++i)
    c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/*===--------------------------------------------------------------------===*
 * By name
 *===--------------------------------------------------------------------===*/

int32_t cnnc_rt_find_param(const cnnc_rt_model *m, const char *name) {
  for (int32_t i = 0; i < m->num_params; ++i)
    if (strcmp(m->tensors[m->param_tensors[i]].name, name) == 0)
      return i;
  return -1;
}

static cnnc_status lookup(cnnc_ctx *ctx, const char *op, const char *name,
                          const void *buf, size_t bytes,
                          const cnnc_rt_tensor **out) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT, "%s: ctx is null", op);
  if (!name)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT, "%s: name is null", op);
  int32_t p = cnnc_rt_find_param(ctx->m, name);
  if (p < 0)
    return cnnc_rt_fail(ctx, CNNC_ERR_NOT_FOUND,
                        "%s: model '%s' has no parameter '%s'", op,
                        ctx->m->name, name);
  const cnnc_rt_tensor *t = &ctx->m->tensors[ctx->m->param_tensors[p]];
  if (bytes != (size_t)t->bytes) {
    char shape[256];
    cnnc_rt_format_shape(shape, sizeof shape, t->dtype, t->rank, t->dims);
    return cnnc_rt_fail(ctx, CNNC_ERR_SHAPE_MISMATCH,
                        "%s: parameter '%s' is %s, %lld bytes; got %zu bytes",
                        op, name, shape, (long long)t->bytes, bytes);
  }
  if (!buf && bytes > 0)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT, "%s: buffer is null", op);
  *out = t;
  return CNNC_OK;
}

cnnc_status cnnc_rt_get_param(cnnc_ctx *ctx, const char *name, void *dst,
                              size_t bytes) {
  const cnnc_rt_tensor *t;
  cnnc_status st = lookup(ctx, "get_param", name, dst, bytes, &t);
  if (st == CNNC_OK && bytes > 0)
    st = cnnc_rt_device_to_host(ctx, (int32_t)(t - ctx->m->tensors));
  if (st == CNNC_OK && bytes > 0)
    memcpy(dst, ctx->params_at + t->offset, bytes);
  return st;
}

cnnc_status cnnc_rt_set_param(cnnc_ctx *ctx, const char *name,
                              const void *src, size_t bytes) {
  const cnnc_rt_tensor *t;
  cnnc_status st = lookup(ctx, "set_param", name, src, bytes, &t);
  if (st == CNNC_OK && bytes > 0) {
    cnnc_rt_params_writable(ctx);
    memmove(ctx->params + t->offset, src, bytes);
    ++ctx->params_epoch;
    cnnc_rt_device_host_written(ctx, (int32_t)(t - ctx->m->tensors));
  }
  return st;
}

/*===--------------------------------------------------------------------===*
 * Little-endian fields
 *===--------------------------------------------------------------------===*/

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/*===--------------------------------------------------------------------===*
 * Saving
 *===--------------------------------------------------------------------===*/

typedef struct writer {
  FILE *f;
  uint32_t crc;
  int failed;
} writer;

static void w_bytes(writer *w, const void *p, size_t n) {
  if (w->failed || n == 0)
    return;
  w->crc = cnnc_wf_crc32(w->crc, p, n);
  if (fwrite(p, 1, n, w->f) != n)
    w->failed = errno ? errno : EIO;
}
static void w_u32(writer *w, uint32_t v) {
  uint8_t b[4];
  put_u32(b, v);
  w_bytes(w, b, 4);
}
static void w_u64(writer *w, uint64_t v) {
  uint8_t b[8];
  put_u64(b, v);
  w_bytes(w, b, 8);
}

/* fsync of the directory holding `path`, so that the rename is durable.
 * Best effort: some file systems refuse it. */
static void sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir;
  if (!slash) {
    dir = strdup(".");
  } else {
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    dir = malloc(n + 1);
    if (dir) {
      memcpy(dir, path, n);
      dir[n] = '\0';
    }
  }
  if (!dir)
    return;
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
  free(dir);
}

cnnc_status cnnc_rt_save_params(cnnc_ctx *ctx, const char *path) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT, "save_params: ctx is null");
  if (!path || !*path)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "save_params: path is null or empty");
  cnnc_status synced = cnnc_rt_device_params_to_host(ctx);
  if (synced != CNNC_OK)
    return synced;
  const cnnc_rt_model *m = ctx->m;
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5);
  if (!tmp)
    return cnnc_rt_fail(ctx, CNNC_ERR_OUT_OF_MEMORY,
                        "save_params: out of memory");
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);

  writer w = {fopen(tmp, "wb"), 0, 0};
  if (!w.f) {
    int e = errno;
    cnnc_status st = cnnc_rt_fail(
        ctx, e == ENOENT ? CNNC_ERR_NOT_FOUND : CNNC_ERR_IO,
        "save_params: cannot create '%s': %s", tmp, strerror(e));
    free(tmp);
    return st;
  }
  errno = 0;
  w_bytes(&w, CNNC_WF_MAGIC, CNNC_WF_MAGIC_BYTES);
  w_u32(&w, (uint32_t)m->num_params);
  for (int32_t i = 0; i < m->num_params; ++i) {
    const cnnc_rt_tensor *t = &m->tensors[m->param_tensors[i]];
    size_t nlen = strlen(t->name);
    w_u32(&w, (uint32_t)nlen);
    w_bytes(&w, t->name, nlen);
    w_u32(&w, (uint32_t)t->dtype);
    w_u32(&w, (uint32_t)t->rank);
    for (int32_t d = 0; d < t->rank; ++d)
      w_u64(&w, (uint64_t)t->dims[d]);
    w_u64(&w, (uint64_t)t->bytes);
    w_bytes(&w, ctx->params_at + t->offset, (size_t)t->bytes);
  }
  uint8_t crc[4];
  put_u32(crc, w.crc);
  if (!w.failed && fwrite(crc, 1, 4, w.f) != 4)
    w.failed = errno ? errno : EIO;
  if (!w.failed && fflush(w.f) != 0)
    w.failed = errno ? errno : EIO;
  if (!w.failed && fsync(fileno(w.f)) != 0)
    w.failed = errno ? errno : EIO;
  if (fclose(w.f) != 0 && !w.failed)
    w.failed = errno ? errno : EIO;
  const char *stage = "write";
  if (!w.failed && rename(tmp, path) != 0) {
    w.failed = errno ? errno : EIO;
    stage = "rename over";
  }
  if (w.failed) {
    int e = w.failed;
    remove(tmp);
    cnnc_status st = cnnc_rt_fail(ctx, CNNC_ERR_IO,
                                  "save_params: cannot %s '%s': %s (the old "
                                  "file, if any, is unchanged)",
                                  stage, stage[0] == 'w' ? tmp : path,
                                  strerror(e));
    free(tmp);
    return st;
  }
  free(tmp);
  sync_parent_dir(path);
  return CNNC_OK;
}

/*===--------------------------------------------------------------------===*
 * Loading
 *===--------------------------------------------------------------------===*/

typedef struct reader {
  FILE *f;
  const char *path;
  const char *what;
  cnnc_ctx *ctx;
  int64_t pos, end; /* end: where the checksum starts */
} reader;

static cnnc_status r_corrupt(reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static cnnc_status r_corrupt(reader *r, const char *fmt, ...) {
  char detail[CNNC_RT_MSG_BYTES];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return cnnc_rt_fail(r->ctx, CNNC_ERR_CORRUPT, "%s '%s': %s", r->what,
                      r->path, detail);
}

static cnnc_status r_io(reader *r, int e) {
  return cnnc_rt_fail(r->ctx, CNNC_ERR_IO, "%s '%s': read failed: %s",
                      r->what, r->path, strerror(e ? e : EIO));
}

/* Reads n bytes of the record area; past the checksum is truncation. */
static cnnc_status r_bytes(reader *r, void *p, size_t n, const char *field) {
  if ((int64_t)n > r->end - r->pos)
    return r_corrupt(r, "truncated: %s at byte %lld runs past the end",
                     field, (long long)r->pos);
  errno = 0;
  if (fread(p, 1, n, r->f) != n)
    return r_io(r, errno);
  r->pos += (int64_t)n;
  return CNNC_OK;
}

static cnnc_status r_u32(reader *r, uint32_t *v, const char *field) {
  uint8_t b[4];
  cnnc_status st = r_bytes(r, b, 4, field);
  *v = get_u32(b);
  return st;
}

static cnnc_status r_u64(reader *r, uint64_t *v, const char *field) {
  uint8_t b[8];
  cnnc_status st = r_bytes(r, b, 8, field);
  *v = get_u64(b);
  return st;
}

static cnnc_status r_seek(reader *r, int64_t pos) {
  if (fseeko(r->f, (off_t)pos, SEEK_SET) != 0)
    return r_io(r, errno);
  r->pos = pos;
  return CNNC_OK;
}

/* Checks the checksum over the whole file. */
static cnnc_status r_check_crc(reader *r) {
  enum { CHUNK = 1 << 16 };
  uint8_t *buf = malloc(CHUNK);
  if (!buf)
    return cnnc_rt_fail(r->ctx, CNNC_ERR_OUT_OF_MEMORY,
                        "%s '%s': out of memory", r->what, r->path);
  uint32_t crc = 0;
  int64_t left = r->end;
  cnnc_status st = r_seek(r, 0);
  while (st == CNNC_OK && left > 0) {
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    errno = 0;
    if (fread(buf, 1, n, r->f) != n) {
      st = r_io(r, errno);
      break;
    }
    crc = cnnc_wf_crc32(crc, buf, n);
    left -= (int64_t)n;
  }
  free(buf);
  if (st != CNNC_OK)
    return st;
  uint8_t b[4];
  errno = 0;
  if (fread(b, 1, 4, r->f) != 4)
    return r_io(r, errno);
  uint32_t stored = get_u32(b);
  if (stored != crc)
    return r_corrupt(r,
                     "checksum mismatch (stored 0x%08x, computed 0x%08x): "
                     "the file is damaged",
                     (unsigned)stored, (unsigned)crc);
  return CNNC_OK;
}

/* Parses the records against the model; data_at[p] gets the file offset of
 * parameter p's data. */
static cnnc_status r_parse(reader *r, int64_t *data_at) {
  const cnnc_rt_model *m = r->ctx->m;
  cnnc_status st;
  uint32_t count;
  if ((st = r_seek(r, CNNC_WF_MAGIC_BYTES)) ||
      (st = r_u32(r, &count, "the parameter count")))
    return st;
  if (count != (uint32_t)m->num_params)
    return r_corrupt(r, "it holds %u parameters, model '%s' has %d",
                     (unsigned)count, m->name, (int)m->num_params);
  char *name = malloc(CNNC_WF_MAX_NAME + 1);
  if (!name)
    return cnnc_rt_fail(r->ctx, CNNC_ERR_OUT_OF_MEMORY,
                        "%s '%s': out of memory", r->what, r->path);
  for (int32_t p = 0; p < m->num_params; ++p)
    data_at[p] = -1;
  for (uint32_t i = 0; i < count && st == CNNC_OK; ++i) {
    uint32_t nlen, dtype, rank;
    uint64_t bytes;
    int64_t dims[CNNC_MAX_RANK];
    if ((st = r_u32(r, &nlen, "a name length")))
      break;
    if (nlen == 0 || nlen > CNNC_WF_MAX_NAME) {
      st = r_corrupt(r, "record %u has a name of %u bytes", (unsigned)i,
                     (unsigned)nlen);
      break;
    }
    if ((st = r_bytes(r, name, nlen, "a name")))
      break;
    name[nlen] = '\0';
    if (strlen(name) != nlen) {
      st = r_corrupt(r, "record %u has a name with a NUL byte", (unsigned)i);
      break;
    }
    int32_t p = cnnc_rt_find_param(m, name);
    if (p < 0) {
      st = r_corrupt(r, "parameter '%s' is not in model '%s'", name, m->name);
      break;
    }
    if (data_at[p] >= 0) {
      st = r_corrupt(r, "parameter '%s' appears twice", name);
      break;
    }
    if ((st = r_u32(r, &dtype, "a dtype")) || (st = r_u32(r, &rank, "a rank")))
      break;
    if (rank > CNNC_MAX_RANK) {
      st = r_corrupt(r, "parameter '%s' has rank %u (at most %d)", name,
                     (unsigned)rank, CNNC_MAX_RANK);
      break;
    }
    for (uint32_t d = 0; d < rank && st == CNNC_OK; ++d) {
      uint64_t v;
      st = r_u64(r, &v, "a dim");
      dims[d] = (int64_t)v;
    }
    if (st || (st = r_u64(r, &bytes, "a byte length")))
      break;
    const cnnc_rt_tensor *t = &m->tensors[m->param_tensors[p]];
    int same = dtype == (uint32_t)t->dtype && rank == (uint32_t)t->rank;
    for (uint32_t d = 0; same && d < rank; ++d)
      same = dims[d] == t->dims[d];
    if (!same) {
      char want[256], got[256];
      cnnc_rt_format_shape(want, sizeof want, t->dtype, t->rank, t->dims);
      cnnc_rt_format_shape(got, sizeof got, (int32_t)dtype, (int32_t)rank,
                           dims);
      st = r_corrupt(r, "parameter '%s': model '%s' expects %s, the file has %s",
                     name, m->name, want, got);
      break;
    }
    if (bytes != (uint64_t)t->bytes) {
      st = r_corrupt(r, "parameter '%s' has %llu bytes of data, expected %lld",
                     name, (unsigned long long)bytes, (long long)t->bytes);
      break;
    }
    if (t->bytes > r->end - r->pos) {
      st = r_corrupt(r, "truncated: the data of '%s' runs past the end", name);
      break;
    }
    data_at[p] = r->pos;
    st = r_seek(r, r->pos + t->bytes);
  }
  free(name);
  if (st == CNNC_OK && r->pos != r->end)
    st = r_corrupt(r, "%lld unexpected bytes after the last parameter",
                   (long long)(r->end - r->pos));
  return st;
}

cnnc_status cnnc_rt_read_params(cnnc_ctx *ctx, const char *path,
                                const char *what) {
  reader r = {NULL, path, what, ctx, 0, 0};
  const cnnc_rt_model *m = ctx->m;
  r.f = fopen(path, "rb");
  if (!r.f) {
    int e = errno;
    return cnnc_rt_fail(ctx, e == ENOENT ? CNNC_ERR_NOT_FOUND : CNNC_ERR_IO,
                        "%s '%s': cannot open: %s", what, path, strerror(e));
  }
  cnnc_status st = CNNC_OK;
  int64_t *data_at = NULL;
  uint8_t magic[CNNC_WF_MAGIC_BYTES];
  int64_t size = -1;
  if (fseeko(r.f, 0, SEEK_END) != 0 || (size = (int64_t)ftello(r.f)) < 0) {
    st = r_io(&r, errno);
    goto done;
  }
  r.end = size - 4;
  if (size < CNNC_WF_MAGIC_BYTES) {
    st = r_corrupt(&r, "not a cnnc parameter file (%lld bytes, no magic)",
                   (long long)size);
    goto done;
  }
  if ((st = r_seek(&r, 0)))
    goto done;
  errno = 0;
  if (fread(magic, 1, sizeof magic, r.f) != sizeof magic) {
    st = r_io(&r, errno);
    goto done;
  }
  if (memcmp(magic, CNNC_WF_MAGIC, CNNC_WF_MAGIC_BYTES) != 0) {
    st = r_corrupt(&r, "not a cnnc parameter file (bad magic; expected \"%s\")",
                   CNNC_WF_MAGIC);
    goto done;
  }
  if (size < CNNC_WF_MIN_BYTES) {
    st = r_corrupt(&r, "truncated (%lld bytes)", (long long)size);
    goto done;
  }
  if ((st = r_check_crc(&r)))
    goto done;
  data_at = malloc(sizeof *data_at * (m->num_params ? (size_t)m->num_params : 1));
  if (!data_at) {
    st = cnnc_rt_fail(ctx, CNNC_ERR_OUT_OF_MEMORY, "%s '%s': out of memory",
                      what, path);
    goto done;
  }
  if ((st = r_parse(&r, data_at)))
    goto done;
  /* Everything checked: copy. Only an I/O error (or the file changing under
   * us) can fail from here on. */
  cnnc_rt_params_writable(ctx);
  for (int32_t p = 0; p < m->num_params && st == CNNC_OK; ++p) {
    const cnnc_rt_tensor *t = &m->tensors[m->param_tensors[p]];
    if ((st = r_seek(&r, data_at[p])))
      break;
    errno = 0;
    if (fread(ctx->params + t->offset, 1, (size_t)t->bytes, r.f) !=
        (size_t)t->bytes)
      st = r_io(&r, errno);
    cnnc_rt_device_host_written(ctx, m->param_tensors[p]);
  }
  ++ctx->params_epoch; /* even a failed read may have written some */
done:
  free(data_at);
  fclose(r.f);
  return st;
}

cnnc_status cnnc_rt_load_params(cnnc_ctx *ctx, const char *path) {
  if (!ctx)
    return cnnc_rt_fail(NULL, CNNC_ERR_BAD_ARGUMENT, "load_params: ctx is null");
  if (!path || !*path)
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "load_params: path is null or empty");
  return cnnc_rt_read_params(ctx, path, "parameter file");
}

/*===--------------------------------------------------------------------===*
 * --weights=external
 *===--------------------------------------------------------------------===*/

/* The directory of the object (shared library or executable) that holds
 * `addr`, with a trailing '/', or "" if unknown. Caller frees. */
static char *object_dir(const void *addr) {
  Dl_info info;
  const char *file = NULL;
  char exe[PATH_MAX];
  if (dladdr(addr, &info) && info.dli_fname && info.dli_fname[0])
    file = info.dli_fname;
  if (!file || !strchr(file, '/')) {
    /* The main program reports "" (or its argv[0]); ask the kernel. */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
      exe[n] = '\0';
      file = exe;
    }
  }
  const char *slash = file ? strrchr(file, '/') : NULL;
  size_t n = slash ? (size_t)(slash - file) + 1 : 0;
  char *dir = malloc(n + 1);
  if (dir) {
    memcpy(dir, file, n);
    dir[n] = '\0';
  }
  return dir;
}

cnnc_status cnnc_rt_load_external_weights(cnnc_ctx *ctx) {
  const cnnc_rt_model *m = ctx->m;
  /* CNNC_WEIGHTS_<name> for one model of several; CNNC_WEIGHTS for all. */
  char var[256];
  snprintf(var, sizeof var, "CNNC_WEIGHTS_%s", m->name);
  const char *env = getenv(var);
  const char *env_name = var;
  if (!env || !*env) {
    env = getenv("CNNC_WEIGHTS");
    env_name = "CNNC_WEIGHTS";
  }
  if (env && *env) {
    char what[300];
    snprintf(what, sizeof what, "weights file (from %s)", env_name);
    return cnnc_rt_read_params(ctx, env, what);
  }
  if (!m->weights_file[0])
    return cnnc_rt_fail(ctx, CNNC_ERR_BAD_ARGUMENT,
                        "model '%s': empty weights file name", m->name);
  if (m->weights_file[0] == '/')
    return cnnc_rt_read_params(ctx, m->weights_file, "weights file");
  char *dir = object_dir(m);
  if (!dir)
    return cnnc_rt_fail(ctx, CNNC_ERR_OUT_OF_MEMORY,
                        "model '%s': out of memory", m->name);
  size_t n = strlen(dir) + strlen(m->weights_file) + 1;
  char *path = malloc(n);
  if (!path) {
    free(dir);
    return cnnc_rt_fail(ctx, CNNC_ERR_OUT_OF_MEMORY,
                        "model '%s': out of memory", m->name);
  }
  snprintf(path, n, "%s%s", dir, m->weights_file);
  free(dir);
  cnnc_status st = cnnc_rt_read_params(ctx, path, "weights file");
  if (st == CNNC_ERR_NOT_FOUND) {
    char msg[CNNC_RT_MSG_BYTES];
    snprintf(msg, sizeof msg, "%s", ctx->err);
    cnnc_rt_fail(ctx, st,
                 "%s (model '%s' was compiled with --weights=external; put "
                 "'%s' next to the library or set CNNC_WEIGHTS to its path)",
                 msg, m->name, m->weights_file);
  }
  free(path);
  return st;
}
