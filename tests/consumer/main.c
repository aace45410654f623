/* Links clt::clt from the installed package and runs one GEMM. */
#include <clt.h>
#include <stdio.h>

int main(void)
{
    clt_context_t ctx;
    clt_status st = clt_context_create(NULL, &ctx);
    if (st != CLT_STATUS_SUCCESS) {
        fprintf(stderr, "consumer: %s\n%s\n", clt_status_name(st), clt_context_last_error(NULL));
        return 1;
    }
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
    float c[4] = {0};
    cl_context cl = clt_context_cl_context(ctx);
    cl_int err;
    cl_mem da =
        clCreateBuffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof a, (void *)a, &err);
    cl_mem db =
        clCreateBuffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof b, (void *)b, &err);
    cl_mem dc = clCreateBuffer(cl, CL_MEM_READ_WRITE, sizeof c, NULL, &err);
    /* (2x3) x (3x2) */
    st = clt_gemm(ctx, CLT_NO_TRANS, CLT_NO_TRANS, 2, 2, 3, 1.0f, (clt_buf){da, 0}, 3,
                  (clt_buf){db, 0}, 2, 0.0f, (clt_buf){dc, 0}, 2);
    if (st == CLT_STATUS_SUCCESS)
        clEnqueueReadBuffer(clt_context_queue(ctx), dc, CL_TRUE, 0, sizeof c, c, 0, NULL, NULL);
    clReleaseMemObject(da);
    clReleaseMemObject(db);
    clReleaseMemObject(dc);
    clt_context_destroy(ctx);
    int ok = st == CLT_STATUS_SUCCESS && c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11;
    printf("consumer: clt %s gemm %s\n", CLT_VERSION_STRING, ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
