from gpu_agent.train.loop import main

raise SystemExit(main())
