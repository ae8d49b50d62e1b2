/* stord */
#include "common/log.h"
LOG_MODULE(main)
int main(void)
{
        log_init("stord");
        return 0;
}
