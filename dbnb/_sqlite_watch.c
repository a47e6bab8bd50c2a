/* A SQLite loadable extension that dbnb loads into its ADBC SQLite connections.
 *
 * ADBC's SQLite driver links its own SQLite and cannot cancel a statement, so
 * Ctrl-C could not stop a runaway read. Loaded into a connection, this gives
 * dbnb that connection's handle (`dbnb_connection_handle()`), and
 * `dbnb_watch_interrupt(handle)` calls that SQLite's own sqlite3_interrupt,
 * which is safe from any thread.
 *
 * The driver also types a column from its values and turns values of other
 * storage classes into text, bytes or doubles without a word (1 into '1', a
 * REAL into 6 digits of text, 2**60 + 1 into a double). So that a statement runs
 * once and still reads exactly, a read goes in three steps on one connection,
 * in one transaction:
 *
 * 1. `dbnb_describe(sql)` prepares the caller's statement, never steps it, and
 *    reports its result columns: each name and declared type
 *    (sqlite3_column_decltype). It fails as preparing it fails, and for
 *    anything but one statement that only reads.
 * 2. The statement runs once, as `WITH dbnb_result(c0, c1, ...) AS (<sql>)
 *    SELECT dbnb_value(0, c0), dbnb_value(1, c1), ..., dbnb_row() FROM
 *    dbnb_result`. A column takes the storage class of its first value, and
 *    `dbnb_value(i, v)` passes on only values of that class, so the driver never
 *    converts one. Any other value is kept here, exact, and NULL goes on in its
 *    place. `dbnb_row()`, evaluated after the values of its row, gives the row's
 *    number when a value of that row was kept (NULL otherwise), so a kept value
 *    finds its row even when SQLite sorts rows after computing them.
 *    A column whose integers and reals read alike (declared NUMERIC(p, s): 1 and
 *    1.0 make the same Decimal) goes through `dbnb_number(i, v)` instead, which
 *    passes integers and reals both, as long as the driver's column holds each
 *    exactly: its integers as they are until a real passes, then doubles, which
 *    hold every integer within 2**53. SQLite stores such a column's whole values
 *    as integers and the others as reals, so this keeps nothing aside for it.
 * 3. `dbnb_kept(0)` and `dbnb_kept(1)`, only when a row said so, hand the kept
 *    values over.
 *
 * The state of a read lives with the connection (one read at a time on it),
 * reset by each `dbnb_describe`. The functions are SQLITE_DIRECTONLY: no view or
 * trigger of a database file can call them.
 */
#include <stdint.h>
#include <string.h>
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

typedef struct Out {
    unsigned char *data;
    sqlite3_uint64 used;
    sqlite3_uint64 size;
} Out;

/* A mode of a dbnb_number column beside the storage classes: integers only so far, one
 * of them beyond 2**53 (no real may pass then: the driver would round it to a double). */
#define WIDE_INTEGERS 8
#define EXACT ((sqlite3_int64)1 << 53) /* a double holds every integer within this */

typedef struct Watch {
    int count;           /* result columns of the statement described last */
    unsigned char *mode; /* per column: the storage class its values pass as (0: none yet) */
    sqlite3_int64 row;   /* number of the row being computed */
    int pending;         /* a value of this row was kept */
    Out kept[2];         /* kept values: integers and reals; text and blobs */
} Watch;

static void watch_free(void *pointer) {
    Watch *watch = pointer;
    sqlite3_free(watch->mode);
    sqlite3_free(watch->kept[0].data);
    sqlite3_free(watch->kept[1].data);
    sqlite3_free(watch);
}

static void connection_handle(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    sqlite3_result_int64(context, (sqlite3_int64)(intptr_t)sqlite3_context_db_handle(context));
}

/* Append `count` bytes, growing the buffer as needed. */
static int out_put(Out *out, const void *bytes, sqlite3_uint64 count) {
    if (out->used + count > out->size) {
        sqlite3_uint64 size = out->size ? out->size : 256;
        while (size < out->used + count) size *= 2;
        unsigned char *data = sqlite3_realloc64(out->data, size);
        if (data == 0) return SQLITE_NOMEM;
        out->data = data;
        out->size = size;
    }
    if (count) memcpy(out->data + out->used, bytes, count);
    out->used += count;
    return SQLITE_OK;
}

/* A length (-1 for NULL) and the text. */
static int out_text(Out *out, const char *text) {
    int32_t length = text ? (int32_t)strlen(text) : -1;
    int rc = out_put(out, &length, sizeof length);
    if (rc == SQLITE_OK && text) rc = out_put(out, text, (sqlite3_uint64)length);
    return rc;
}

/* --- dbnb_describe(sql) ------------------------------------------------------------ */

static int watch_reset(Watch *watch, int count) {
    unsigned char *mode = sqlite3_realloc64(watch->mode, (sqlite3_uint64)count + 1);
    if (mode == 0) return SQLITE_NOMEM;
    memset(mode, 0, (size_t)count + 1);
    watch->mode = mode;
    watch->count = count;
    watch->row = 0;
    watch->pending = 0;
    for (int k = 0; k < 2; k++) { /* what the last read kept and never handed over */
        sqlite3_free(watch->kept[k].data);
        watch->kept[k].data = 0;
        watch->kept[k].used = watch->kept[k].size = 0;
    }
    return SQLITE_OK;
}

/* Whether anything but blanks and comments follows the first statement. */
static int more_statements(sqlite3 *db, const char *tail, int *rc) {
    sqlite3_stmt *next = 0;
    *rc = sqlite3_prepare_v2(db, tail, -1, &next, 0);
    int more = next != 0;
    sqlite3_finalize(next);
    return more;
}

/* The result columns of `sql`, prepared and never stepped: a blob of the column
 * count (32 bits), then each name and declared type, each as a 32-bit length (-1:
 * NULL) and UTF-8 text. */
static void describe(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    Watch *watch = sqlite3_user_data(context);
    sqlite3 *db = sqlite3_context_db_handle(context);
    const char *sql = (const char *)sqlite3_value_text(argv[0]);
    if (sql == 0) {
        sqlite3_result_error(context, "dbnb_describe: no statement", -1);
        return;
    }
    sqlite3_stmt *statement = 0;
    const char *tail = 0;
    int rc = sqlite3_prepare_v2(db, sql, -1, &statement, &tail);
    if (rc != SQLITE_OK || statement == 0) {
        sqlite3_result_error(context, rc != SQLITE_OK ? sqlite3_errmsg(db) : "no statement", -1);
        sqlite3_finalize(statement);
        return;
    }
    const char *refusal = 0;
    if (more_statements(db, tail, &rc) || rc != SQLITE_OK) {
        refusal = "dbnb_describe: more than one statement";
    } else if (!sqlite3_stmt_readonly(statement)) {
        refusal = "dbnb_describe: not a statement that only reads";
    }
    if (refusal) {
        sqlite3_result_error(context, refusal, -1);
        sqlite3_finalize(statement);
        return;
    }
    int count = sqlite3_column_count(statement);
    Out out = {0, 0, 0};
    int32_t count32 = count;
    rc = out_put(&out, &count32, sizeof count32);
    for (int i = 0; i < count && rc == SQLITE_OK; i++) {
        rc = out_text(&out, sqlite3_column_name(statement, i));
        if (rc == SQLITE_OK) rc = out_text(&out, sqlite3_column_decltype(statement, i));
    }
    if (rc == SQLITE_OK) rc = watch_reset(watch, count);
    sqlite3_finalize(statement);
    if (rc != SQLITE_OK) {
        sqlite3_free(out.data);
        sqlite3_result_error_nomem(context);
        return;
    }
    sqlite3_result_blob64(context, out.data, out.used, sqlite3_free);
}

/* --- dbnb_value(i, v), dbnb_row(), dbnb_kept(which) -------------------------------- */

/* A kept value, in native byte order: the row (64 bits), the column (32 bits), the
 * storage class (32 bits), then for an integer or a real its 64 bits (in
 * kept[0]: records of one size, read as one array), for text (UTF-8) or a blob
 * its length (64 bits) and bytes (in kept[1]). */
static int keep(Watch *watch, int i, int type, sqlite3_value *value) {
    int variable = type == SQLITE_TEXT || type == SQLITE_BLOB;
    Out out = watch->kept[variable];
    int32_t header[2] = {i, type};
    int rc = out_put(&out, &watch->row, sizeof watch->row);
    if (rc == SQLITE_OK) rc = out_put(&out, header, sizeof header);
    if (rc == SQLITE_OK && type == SQLITE_INTEGER) {
        sqlite3_int64 integer = sqlite3_value_int64(value);
        rc = out_put(&out, &integer, sizeof integer);
    } else if (rc == SQLITE_OK && type == SQLITE_FLOAT) {
        double real = sqlite3_value_double(value);
        rc = out_put(&out, &real, sizeof real);
    } else if (rc == SQLITE_OK) {
        const void *bytes = type == SQLITE_TEXT ? (const void *)sqlite3_value_text(value)
                                                : sqlite3_value_blob(value);
        sqlite3_int64 length = sqlite3_value_bytes(value);
        rc = out_put(&out, &length, sizeof length);
        if (rc == SQLITE_OK) rc = out_put(&out, bytes, (sqlite3_uint64)length);
    }
    watch->kept[variable].data = out.data; /* grown, even if not all of it was written */
    watch->kept[variable].size = out.size;
    if (rc == SQLITE_OK) {
        watch->kept[variable].used = out.used;
        watch->pending = 1;
    }
    return rc;
}

/* The value passed on, or kept (NULL in its place). */
static void pass_or_keep(sqlite3_context *context, Watch *watch, int i, int type,
                         sqlite3_value *value, int pass) {
    if (pass) {
        sqlite3_result_value(context, value);
    } else if (keep(watch, i, type, value) != SQLITE_OK) {
        sqlite3_result_error_nomem(context);
    }
}

/* The column dbnb_value or dbnb_number names, or -1 (an error said so). */
static int column_of(sqlite3_context *context, Watch *watch, sqlite3_value *index) {
    int i = sqlite3_value_int(index);
    if (i < 0 || i >= watch->count) {
        sqlite3_result_error(context, "dbnb_value: no such column; describe first", -1);
        return -1;
    }
    return i;
}

static void value(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    Watch *watch = sqlite3_user_data(context);
    int i = column_of(context, watch, argv[0]);
    int type = sqlite3_value_type(argv[1]);
    if (i < 0 || type == SQLITE_NULL) return;
    if (watch->mode[i] == 0) watch->mode[i] = (unsigned char)type;
    pass_or_keep(context, watch, i, type, argv[1], type == watch->mode[i]);
}

/* The mode of a dbnb_number column after `type` (and `big`: an integer beyond 2**53)
 * came, or 0 when that value cannot pass. */
static unsigned char number_mode(unsigned char mode, int type, int big) {
    switch (mode) {
    case 0:
        return type == SQLITE_INTEGER && big ? WIDE_INTEGERS : (unsigned char)type;
    case SQLITE_INTEGER: /* a real turns the driver's integers into doubles: none is big */
        if (type == SQLITE_INTEGER) return big ? WIDE_INTEGERS : SQLITE_INTEGER;
        return type == SQLITE_FLOAT ? SQLITE_FLOAT : 0;
    case WIDE_INTEGERS:
        return type == SQLITE_INTEGER ? WIDE_INTEGERS : 0;
    case SQLITE_FLOAT:
        return type == SQLITE_FLOAT || (type == SQLITE_INTEGER && !big) ? SQLITE_FLOAT : 0;
    default: /* text or blobs */
        return type == mode ? mode : 0;
    }
}

static void number(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    Watch *watch = sqlite3_user_data(context);
    int i = column_of(context, watch, argv[0]);
    int type = sqlite3_value_type(argv[1]);
    if (i < 0 || type == SQLITE_NULL) return;
    int big = 0;
    if (type == SQLITE_INTEGER) {
        sqlite3_int64 integer = sqlite3_value_int64(argv[1]);
        big = integer < -EXACT || integer > EXACT;
    }
    unsigned char mode = number_mode(watch->mode[i], type, big);
    if (mode) watch->mode[i] = mode;
    pass_or_keep(context, watch, i, type, argv[1], mode != 0);
}

static void row(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    Watch *watch = sqlite3_user_data(context);
    if (watch->pending) {
        sqlite3_result_int64(context, watch->row);
        watch->pending = 0;
    }
    watch->row++;
}

static void kept(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    Watch *watch = sqlite3_user_data(context);
    Out *out = &watch->kept[sqlite3_value_int(argv[0]) != 0];
    if (out->used == 0) {
        sqlite3_result_zeroblob(context, 0);
        return;
    }
    /* Handed over to SQLite, which frees it once the driver has copied it. */
    sqlite3_result_blob64(context, out->data, out->used, sqlite3_free);
    out->data = 0;
    out->used = out->size = 0;
}

int dbnb_watch_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
    (void)error;
    SQLITE_EXTENSION_INIT2(api);
    Watch *watch = sqlite3_malloc(sizeof *watch);
    if (watch == 0) return SQLITE_NOMEM;
    memset(watch, 0, sizeof *watch);
    /* Not SQLITE_DETERMINISTIC: each call counts, none may be factored out. The
     * first registration owns the state and frees it with the connection. */
    const int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
    int rc = sqlite3_create_function_v2(db, "dbnb_describe", 1, flags, watch, describe, 0, 0,
                                        watch_free);
    if (rc != SQLITE_OK) return rc; /* SQLite has called watch_free */
    const struct {
        const char *name;
        int arguments;
        void (*function)(sqlite3_context *, int, sqlite3_value **);
    } functions[] = {
        {"dbnb_connection_handle", 0, connection_handle},
        {"dbnb_value", 2, value},
        {"dbnb_number", 2, number},
        {"dbnb_row", 0, row},
        {"dbnb_kept", 1, kept},
    };
    for (size_t f = 0; f < sizeof functions / sizeof functions[0] && rc == SQLITE_OK; f++) {
        rc = sqlite3_create_function_v2(db, functions[f].name, functions[f].arguments, flags,
                                        watch, functions[f].function, 0, 0, 0);
    }
    return rc;
}

void dbnb_watch_interrupt(intptr_t handle) { sqlite3_interrupt((sqlite3 *)handle); }
