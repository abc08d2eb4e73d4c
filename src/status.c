/* status.c — names of status codes and the library version. */
#include "bibim.h"

const char *bibim_version(void) { return BIBIM_VERSION; }

const char *bibim_status_string(bibim_status status) {
    switch (status) {
    case BIBIM_OK: return "ok";
    case BIBIM_ERR_INVALID_ARG: return "invalid argument";
    case BIBIM_ERR_IO: return "i/o error";
    case BIBIM_ERR_FORMAT: return "malformed file";
    case BIBIM_ERR_UNSUPPORTED: return "unsupported";
    case BIBIM_ERR_NOT_FOUND: return "not found";
    case BIBIM_ERR_TYPE: return "type mismatch";
    case BIBIM_ERR_NOMEM: return "out of memory";
    case BIBIM_ERR_CANCELLED: return "cancelled";
    case BIBIM_ERR_TOO_SMALL: return "buffer too small";
    case BIBIM_ERR_CONTEXT_FULL: return "context full";
    case BIBIM_ERR_TEMPLATE: return "template error";
    }
    return "unknown status";
}
