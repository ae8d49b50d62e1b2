/* netd */
#include "common/log.h"
LOG_MODULE(main)
int main(void)
{
        log_init("netd");
        return 0;
}
