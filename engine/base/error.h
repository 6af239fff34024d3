/* Errors are values: a function that can fail returns 0 on success or -1 after
 * writing a message that names the file, tensor or field into a struct hr_error.
 * The CLI prints that message and exits non-zero; the library never aborts on
 * bad input. */
#ifndef HYRECALL_ERROR_H
#define HYRECALL_ERROR_H

struct hr_error {
    char msg[1024];
};

/* Formats the message into e (if e is non-NULL) and returns -1, so that
 * `return hr_fail(e, "...")` reads naturally at the point of failure. */
int hr_fail(struct hr_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes an existing message with more context ("loading DIR: " + msg). */
int hr_wrap(struct hr_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
