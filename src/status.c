/* Status codes: names and sentences, generated from CLT_STATUS_MAP. */
#include "clt.h"

const char *clt_status_string(clt_status s)
{
    switch (s) {
#define CLT_STATUS_TEXT_(name, value, text)                                                        \
    case CLT_STATUS_##name:                                                                        \
        return text;
        CLT_STATUS_MAP(CLT_STATUS_TEXT_)
#undef CLT_STATUS_TEXT_
    }
    return "unknown status";
}

const char *clt_status_name(clt_status s)
{
    switch (s) {
#define CLT_STATUS_NAME_(name, value, text)                                                        \
    case CLT_STATUS_##name:                                                                        \
        return "CLT_STATUS_" #name;
        CLT_STATUS_MAP(CLT_STATUS_NAME_)
#undef CLT_STATUS_NAME_
    }
    return "CLT_STATUS_UNKNOWN";
}
