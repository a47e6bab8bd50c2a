/* A SQLite loadable extension that dbnb loads into its ADBC SQLite connections.
 *
 * ADBC's SQLite driver links its own SQLite and cannot cancel a statement, so
 * Ctrl-C could not stop a runaway read. Loaded into a connection, this gives
 * dbnb that connection's handle (`dbnb_connection_handle()`), and
 * `dbnb_watch_interrupt(handle)` calls that SQLite's own sqlite3_interrupt,
 * which is safe from any thread.
 *
 * The driver also types a column from its values and turns values of other
 * storage classes into text or bytes without a word. `dbnb_classes(a, b, ...)`
 * packs the storage class of each argument (up to 21) into one integer, three
 * bits each, so dbnb can prove a column held what its Arrow type says.
 */
#include <stdint.h>
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

/* Class codes: SQLite's own (1 integer, 2 real, 3 text, 4 blob, 5 null), and
 * 6 for an integer a double cannot hold exactly (beyond 2**53). */
#define DBNB_WIDE_INTEGER 6
#define DBNB_CLASSES_PER_CALL 21

static void connection_handle(sqlite3_context *context, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    sqlite3_result_int64(context, (sqlite3_int64)(intptr_t)sqlite3_context_db_handle(context));
}

static void classes(sqlite3_context *context, int argc, sqlite3_value **argv) {
    const sqlite3_int64 exact = (sqlite3_int64)1 << 53;
    sqlite3_int64 packed = 0;
    for (int i = 0; i < argc && i < DBNB_CLASSES_PER_CALL; i++) {
        sqlite3_int64 code = sqlite3_value_type(argv[i]);
        if (code == SQLITE_INTEGER) {
            sqlite3_int64 value = sqlite3_value_int64(argv[i]);
            if (value > exact || value < -exact) code = DBNB_WIDE_INTEGER;
        }
        packed |= code << (3 * i);
    }
    sqlite3_result_int64(context, packed);
}

int dbnb_watch_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
    (void)error;
    SQLITE_EXTENSION_INIT2(api);
    int rc = sqlite3_create_function(db, "dbnb_connection_handle", 0, SQLITE_UTF8, 0,
                                     connection_handle, 0, 0);
    if (rc == SQLITE_OK) {
        rc = sqlite3_create_function(db, "dbnb_classes", -1,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC, 0, classes, 0, 0);
    }
    return rc;
}

void dbnb_watch_interrupt(intptr_t handle) { sqlite3_interrupt((sqlite3 *)handle); }
