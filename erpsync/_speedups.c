/* The per-row loops of the mapping stage that stdlib calls cannot make C-level.
 *
 * All are optional: callers read them through erpsync/speedups.py, which holds None for each where
 * the package was built without a C compiler; erpsync then runs the pure-Python twin beside each caller
 * (erpsync/feeds/csv.py, erpsync/mapping/seen.py),
 * which gives the same results, slower. The tests run both and compare them
 * (tests/feeds/test_speedups.py and the `speedups` fixture in tests/feeds/conftest.py).
 *
 * split_records: CSV records split exactly as the stdlib reader splits them.
 *
 * `csv.reader` walks a feed one character at a time through Python's line iterator; over a
 * feed of a million rows that is a third of erpsync's time to map the feed. This walks the
 * decoded text once, in the same state machine as `_csv.c` (Python 3.11) with erpsync's dialect:
 * one delimiter, one quote character, doubled quotes, no escape character, not strict. Records
 * end at \r\n, \r or \n outside quotes, as they do when the stdlib reads io.StringIO(text,
 * newline=""). Blank lines give no record, as `filter(None, reader)` drops them.
 *
 * A text the stdlib reader would refuse (a field over the limit it is given, the feeds'
 * MAX_FIELD_SIZE, which is csv.field_size_limit() while a feed is read) returns None
 * instead of a result: the caller then runs the stdlib reader, which raises its own error.
 *
 * add_hashes: the probing loop of erpsync.seen.SeenIndex, over the same table with the same
 * hashes, so a table filled by either is the same table.
 *
 * Only loops that bench/feeds.py shows paying for themselves are here (see README, Performance).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum state { START_RECORD, START_FIELD, IN_FIELD, IN_QUOTED_FIELD, QUOTE_IN_QUOTED_FIELD };

/* A field whose text is not one slice of the input ("a""b", or "a"b) is copied here. */
typedef struct {
    Py_UCS4 *chars;
    Py_ssize_t length;
    Py_ssize_t capacity;
} Scratch;

static int
scratch_add(Scratch *scratch, int kind, const void *data, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t needed = scratch->length + (end - start);
    if (needed > scratch->capacity) {
        Py_ssize_t capacity = scratch->capacity ? scratch->capacity : 256;
        while (capacity < needed) {
            capacity *= 2;
        }
        Py_UCS4 *chars = PyMem_Realloc(scratch->chars, (size_t)capacity * sizeof(Py_UCS4));
        if (chars == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        scratch->chars = chars;
        scratch->capacity = capacity;
    }
    for (Py_ssize_t index = start; index < end; index++) {
        scratch->chars[scratch->length++] = PyUnicode_READ(kind, data, index);
    }
    return 0;
}

typedef struct {
    int kind;
    int ascii;
    const void *data;
    Py_ssize_t limit;
    PyObject *records;
    PyObject *record;
    Scratch scratch;
    int scratched;        /* the field so far lives in scratch, not only in [start, end) */
    int too_long;
} Splitter;

/* Save the field made of the scratch text (if any) and the slice [start, end). */
static int
save_field(Splitter *splitter, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *field;
    if (splitter->scratched) {
        if (scratch_add(&splitter->scratch, splitter->kind, splitter->data, start, end) < 0) {
            return -1;
        }
        if (splitter->scratch.length > splitter->limit) {
            splitter->too_long = 1;
            return -1;
        }
        field = PyUnicode_FromKindAndData(
            PyUnicode_4BYTE_KIND, splitter->scratch.chars, splitter->scratch.length);
        splitter->scratch.length = 0;
        splitter->scratched = 0;
    }
    else if (end - start > splitter->limit) {
        splitter->too_long = 1;
        return -1;
    }
    else if (splitter->ascii) {
        /* A slice of ASCII text is ASCII: no scan for the widest character. */
        field = PyUnicode_New(end - start, 127);
        if (field != NULL) {
            memcpy(PyUnicode_DATA(field), (const char *)splitter->data + start, (size_t)(end - start));
        }
    }
    else {
        field = PyUnicode_FromKindAndData(
            splitter->kind, (const char *)splitter->data + start * splitter->kind, end - start);
    }
    if (field == NULL) {
        return -1;
    }
    if (splitter->record == NULL) {
        splitter->record = PyList_New(0);
        if (splitter->record == NULL) {
            Py_DECREF(field);
            return -1;
        }
    }
    int failed = PyList_Append(splitter->record, field);
    Py_DECREF(field);
    return failed;
}

static int
end_record(Splitter *splitter)
{
    int failed = PyList_Append(splitter->records, splitter->record);
    Py_CLEAR(splitter->record);
    return failed;
}

/* Move the slice [start, end) into scratch: the field goes on after a gap (a doubled quote). */
static int
keep_slice(Splitter *splitter, Py_ssize_t start, Py_ssize_t end)
{
    if (scratch_add(&splitter->scratch, splitter->kind, splitter->data, start, end) < 0) {
        return -1;
    }
    splitter->scratched = 1;
    return 0;
}

/* The walk, for one string width: called with a constant `kind`, so each width gets its own
 * loop reading characters directly (the call sites below). */
static inline Py_ALWAYS_INLINE int
split_kind(Splitter *splitter, Py_ssize_t length, Py_UCS4 delimiter, Py_UCS4 quote, const int kind)
{
    const void *data = splitter->data;
    enum state state = START_RECORD;
    Py_ssize_t start = 0;      /* where the field's current slice begins */
    Py_ssize_t closing = 0;    /* where the quote that may close a quoted field stands */
    for (Py_ssize_t index = 0; index < length; index++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, index);
        switch (state) {
        case START_RECORD:
            if (c == '\n' || c == '\r') {
                break;
            }
            state = START_FIELD;
            /* fall through - the first character of a record starts its first field */
        case START_FIELD:
            if (c == '\n' || c == '\r') {
                if (save_field(splitter, index, index) < 0 || end_record(splitter) < 0) {
                    return -1;
                }
                state = START_RECORD;
            }
            else if (c == quote) {
                start = index + 1;
                state = IN_QUOTED_FIELD;
            }
            else if (c == delimiter) {
                if (save_field(splitter, index, index) < 0) {
                    return -1;
                }
                state = START_FIELD;
            }
            else {
                start = index;
                state = IN_FIELD;
            }
            break;
        case IN_FIELD:
            /* Most characters of a field are ordinary: skip them in a tight loop. */
            while (c != '\n' && c != '\r' && c != delimiter) {
                if (++index == length) {
                    goto finished;
                }
                c = PyUnicode_READ(kind, data, index);
            }
            if (c == '\n' || c == '\r') {
                if (save_field(splitter, start, index) < 0 || end_record(splitter) < 0) {
                    return -1;
                }
                state = START_RECORD;
            }
            else if (c == delimiter) {
                if (save_field(splitter, start, index) < 0) {
                    return -1;
                }
                state = START_FIELD;
            }
            break;
        case IN_QUOTED_FIELD:
            while (c != quote) {
                if (++index == length) {
                    goto finished;
                }
                c = PyUnicode_READ(kind, data, index);
            }
            closing = index;
            state = QUOTE_IN_QUOTED_FIELD;
            break;
        case QUOTE_IN_QUOTED_FIELD:
            if (c == quote) {
                /* "" inside quotes: keep the first quote, drop the second */
                if (keep_slice(splitter, start, index) < 0) {
                    return -1;
                }
                start = index + 1;
                state = IN_QUOTED_FIELD;
            }
            else if (c == delimiter) {
                if (save_field(splitter, start, closing) < 0) {
                    return -1;
                }
                state = START_FIELD;
            }
            else if (c == '\n' || c == '\r') {
                if (save_field(splitter, start, closing) < 0 || end_record(splitter) < 0) {
                    return -1;
                }
                state = START_RECORD;
            }
            else {
                /* "a"b: the text after the closing quote belongs to the field */
                if (keep_slice(splitter, start, closing) < 0) {
                    return -1;
                }
                start = index;
                state = IN_FIELD;
            }
            break;
        }
    }
finished:
    switch (state) {
    case START_RECORD:
        return 0;
    case START_FIELD:
        if (save_field(splitter, length, length) < 0) {
            return -1;
        }
        break;
    case IN_FIELD:
    case IN_QUOTED_FIELD:
        if (save_field(splitter, start, length) < 0) {
            return -1;
        }
        break;
    case QUOTE_IN_QUOTED_FIELD:
        if (save_field(splitter, start, closing) < 0) {
            return -1;
        }
        break;
    }
    return end_record(splitter);
}

static int
split(Splitter *splitter, Py_ssize_t length, Py_UCS4 delimiter, Py_UCS4 quote)
{
    switch (splitter->kind) {
    case PyUnicode_1BYTE_KIND:
        return split_kind(splitter, length, delimiter, quote, PyUnicode_1BYTE_KIND);
    case PyUnicode_2BYTE_KIND:
        return split_kind(splitter, length, delimiter, quote, PyUnicode_2BYTE_KIND);
    default:
        return split_kind(splitter, length, delimiter, quote, PyUnicode_4BYTE_KIND);
    }
}

static PyObject *
split_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "split_records(text, delimiter, quotechar, field_limit)");
        return NULL;
    }
    PyObject *text = args[0];
    if (!PyUnicode_Check(text) || !PyUnicode_Check(args[1]) || !PyUnicode_Check(args[2])
        || PyUnicode_GET_LENGTH(args[1]) != 1 || PyUnicode_GET_LENGTH(args[2]) != 1) {
        PyErr_SetString(PyExc_TypeError, "text must be a str, delimiter and quotechar one character each");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) {
        return NULL;
    }
#endif
    Py_ssize_t limit = PyLong_AsSsize_t(args[3]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_UCS4 delimiter = PyUnicode_READ_CHAR(args[1], 0);
    Py_UCS4 quote = PyUnicode_READ_CHAR(args[2], 0);
    if (delimiter == quote || delimiter == '\n' || delimiter == '\r' || quote == '\n' || quote == '\r') {
        Py_RETURN_NONE;
    }
    Splitter splitter = {
        .kind = PyUnicode_KIND(text),
        .ascii = PyUnicode_IS_ASCII(text),
        .data = PyUnicode_DATA(text),
        .limit = limit,
        .records = PyList_New(0),
    };
    if (splitter.records == NULL) {
        return NULL;
    }
    int outcome = split(&splitter, PyUnicode_GET_LENGTH(text), delimiter, quote);
    PyMem_Free(splitter.scratch.chars);
    Py_CLEAR(splitter.record);
    if (outcome == 0) {
        return splitter.records;
    }
    Py_DECREF(splitter.records);
    if (splitter.too_long) {
        /* Refused by the stdlib reader too: let it raise its own error. */
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return NULL;
}

#define PROBE_BLOCK 64
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH_FOR_WRITE(address) __builtin_prefetch((address), 1)
#else
#define PREFETCH_FOR_WRITE(address) ((void)(address))
#endif

/* add_hashes(table, texts, rows, ordinals) -> [(index, first row, first ordinal), ...]
 *
 * `table` is SeenIndex's array('q') of 2 * size slots (size a power of two, never more than half
 * full): even slots hold hash(text) | 1, 0 when empty, odd ones row << 32 | ordinal.
 */
static PyObject *
add_hashes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "add_hashes(table, texts, rows, ordinals)");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE | PyBUF_FORMAT) < 0) {
        return NULL;
    }
    PyObject *texts = NULL, *rows = NULL, *ordinals = NULL, *repeats = NULL;
    if (view.itemsize != 8 || view.format == NULL || strcmp(view.format, "q") != 0
        || view.len < 32 || ((view.len / 8) & (view.len / 8 - 1)) != 0) {
        PyErr_SetString(PyExc_TypeError, "table must be an array('q') of a power-of-two length");
        goto done;
    }
    texts = PySequence_Fast(args[1], "texts must be a sequence");
    rows = texts ? PySequence_Fast(args[2], "rows must be a sequence") : NULL;
    ordinals = rows ? PySequence_Fast(args[3], "ordinals must be a sequence") : NULL;
    if (ordinals == NULL) {
        goto done;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(texts);
    if (PySequence_Fast_GET_SIZE(rows) != count || PySequence_Fast_GET_SIZE(ordinals) != count) {
        PyErr_SetString(PyExc_ValueError, "texts, rows and ordinals differ in length");
        goto done;
    }
    repeats = PyList_New(0);
    if (repeats == NULL) {
        goto done;
    }
    long long *table = view.buf;
    const long long mask = (long long)(view.len / 8) - 2;
    PyObject **text_items = PySequence_Fast_ITEMS(texts);
    PyObject **row_items = PySequence_Fast_ITEMS(rows);
    PyObject **ordinal_items = PySequence_Fast_ITEMS(ordinals);
    /* A table of a million SKUs is far bigger than the caches: each probe misses. The hashes of
     * a block are taken first and their slots fetched ahead, so the misses overlap. */
    long long hashes[PROBE_BLOCK];
    for (Py_ssize_t first = 0; first < count; first += PROBE_BLOCK) {
        Py_ssize_t block = count - first < PROBE_BLOCK ? count - first : PROBE_BLOCK;
        for (Py_ssize_t offset = 0; offset < block; offset++) {
            Py_hash_t hash = PyObject_Hash(text_items[first + offset]);
            if (hash == -1) {
                Py_CLEAR(repeats);
                goto done;
            }
            hashes[offset] = (long long)hash | 1;
            PREFETCH_FOR_WRITE(&table[hashes[offset] & mask]);
        }
        for (Py_ssize_t offset = 0; offset < block; offset++) {
            Py_ssize_t index = first + offset;
            long long hashed = hashes[offset];
            long long at = hashed & mask;
            long long existing;
            while ((existing = table[at]) != 0 && existing != hashed) {
                at = (at + 2) & mask;
            }
            if (existing == hashed) {
                long long packed = table[at + 1];
                PyObject *repeat = Py_BuildValue("(nLL)", index, packed >> 32, packed & 0xFFFFFFFFLL);
                if (repeat == NULL || PyList_Append(repeats, repeat) < 0) {
                    Py_XDECREF(repeat);
                    Py_CLEAR(repeats);
                    goto done;
                }
                Py_DECREF(repeat);
                continue;
            }
            long long row = PyLong_AsLongLong(row_items[index]);
            long long ordinal = row == -1 && PyErr_Occurred() ? -1 : PyLong_AsLongLong(ordinal_items[index]);
            if (PyErr_Occurred()) {
                Py_CLEAR(repeats);
                goto done;
            }
            table[at] = hashed;
            table[at + 1] = (long long)((unsigned long long)row << 32) | ordinal;
        }
    }
done:
    Py_XDECREF(texts);
    Py_XDECREF(rows);
    Py_XDECREF(ordinals);
    PyBuffer_Release(&view);
    return repeats;
}


static PyMethodDef methods[] = {
    {"add_hashes", (PyCFunction)(void (*)(void))add_hashes, METH_FASTCALL,
     "add_hashes(table, texts, rows, ordinals) -> list of (index, first row, first ordinal)\n\n"
     "SeenIndex.add_many's probing loop over its table."},
    {"split_records", (PyCFunction)(void (*)(void))split_records, METH_FASTCALL,
     "split_records(text, delimiter, quotechar, field_limit) -> list of records, or None\n\n"
     "The non-blank records of `text` as csv.reader gives them, or None where it would raise."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "erpsync._speedups",
    .m_doc = "The mapping stage's per-row loops in C; erpsync runs the same code in Python without it.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&module);
}
