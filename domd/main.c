/* domd */
#include "common/log.h"
LOG_MODULE(main)
int main(void)
{
        log_init("domd");
        return 0;
}
