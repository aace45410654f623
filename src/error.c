/* Error messages and logging: the library never prints on its own. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Why the last context creation in this thread failed (no context yet). */
static _Thread_local char tls_error[CLT__ERRMAX];

static char *error_buffer(clt_context_t ctx)
{
    return ctx ? ctx->error : tls_error;
}

clt_status clt__fail(clt_context_t ctx, clt_status status, const char *fmt, ...)
{
    char *buf = error_buffer(ctx);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, CLT__ERRMAX, fmt, ap);
    va_end(ap);
    /* the caller gets the status; the log only helps whoever debugs */
    clt__log(ctx, CLT_LOG_DEBUG, "%s: %s", clt_status_name(status), buf);
    return status;
}

void clt__clear_error(clt_context_t ctx)
{
    error_buffer(ctx)[0] = '\0';
}

clt_status clt__cl_fail(clt_context_t ctx, cl_int err, const char *what)
{
    /* OpenCL codes are clt codes with the same value; unknown ones stay raw. */
    return clt__fail(ctx, (clt_status)err, "%s failed: %s (%d)", what,
                     clt_status_string((clt_status)err), (int)err);
}

void clt__log(clt_context_t ctx, clt_log_level level, const char *fmt, ...)
{
    if (!ctx || !ctx->log || (int)level > ctx->log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctx->log(level, msg, ctx->log_user);
}

const char *clt_context_last_error(clt_context_t ctx)
{
    return error_buffer(ctx);
}
